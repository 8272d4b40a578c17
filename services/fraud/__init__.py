"""Warren fraud service: assesses every payment request (rules, velocity, optional external score)."""
