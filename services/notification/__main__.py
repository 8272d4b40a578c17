"""``python -m notification serve|migrate``."""

from notification.entrypoints.main import main

if __name__ == "__main__":
    raise SystemExit(main())
