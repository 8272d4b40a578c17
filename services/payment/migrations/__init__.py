"""Alembic migrations of the payment database (``python -m payment migrate``)."""
