"""Warren platform: the mechanism every service stands on. No business rules live here."""
