"""``python -m fraud serve | migrate``."""

from __future__ import annotations

import sys

from fraud.entrypoints.main import migrate, serve
from shared.runtime.cli import service_main

if __name__ == "__main__":
    sys.exit(service_main("fraud", serve=serve, migrate=migrate))
