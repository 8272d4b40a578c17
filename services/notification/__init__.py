"""Warren notification service: every customer-facing outcome becomes exactly one delivered message."""
