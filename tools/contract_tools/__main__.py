"""``python -m contract_tools check|update`` (run with PYTHONPATH=tools; `make contract` does)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime

from contract_tools.artefacts import check, update
from contract_tools.declarations import load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="contract_tools", description=__doc__)
    parser.add_argument("command", choices=["check", "update"])
    parser.add_argument("--strict", action="store_true", help="fail when a service still uses the fallback")
    parser.add_argument("--today", type=date.fromisoformat, default=datetime.now(UTC).date())
    parser.add_argument(
        "--accept-breaking",
        action="append",
        default=[],
        metavar="TYPE",
        help="update: allow a breaking change",
    )
    args = parser.parse_args(argv)
    loaded = load()
    for fallback in loaded.fallbacks:
        print(f"fallback {fallback}", file=sys.stderr)
    if args.command == "update":
        refused = update(loaded.catalogue, args.today, set(args.accept_breaking))
        for refusal in refused:
            print(f"refused: {refusal}", file=sys.stderr)
        if refused:
            return 1
        print("contracts/asyncapi.json and contracts/schemas/ regenerated")
        return 0
    report = check(loaded.catalogue, args.today)
    print(report.render())
    if args.strict and loaded.fallbacks:
        print("FAIL --strict: services above still rely on the fallback declarations", file=sys.stderr)
        return 1
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
