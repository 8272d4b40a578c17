"""A local HTTP server that imitates a card payment gateway (test tokens, idempotency keys, chaos)."""
