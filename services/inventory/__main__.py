"""``python -m inventory serve | migrate``."""

from __future__ import annotations

import sys

from inventory.entrypoints.main import migrate, serve
from shared.runtime.cli import service_main

if __name__ == "__main__":
    sys.exit(service_main("inventory", serve=serve, migrate=migrate))
