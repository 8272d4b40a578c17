"""Warren inventory service: stock levels, basket reservations, commit and compensation."""
