"""Contract tooling: loads every service's declarations and checks or regenerates contracts/ (make contract)."""
