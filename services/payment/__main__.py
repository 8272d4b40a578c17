"""``python -m payment serve|migrate``."""

from payment.entrypoints.main import migrate, serve
from shared.runtime.cli import service_main

if __name__ == "__main__":
    raise SystemExit(service_main("payment", serve=serve, migrate=migrate))
