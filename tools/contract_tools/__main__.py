"""``python -m contract_tools check|update`` (run with PYTHONPATH=tools; `make contract` does)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from contract_tools.artefacts import catalogue_version, check, update
from contract_tools.declarations import load
from contract_tools.html import render_html
from shared.contracts import asyncapi


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="contract_tools", description=__doc__)
    parser.add_argument("command", choices=["check", "update", "html"])
    parser.add_argument(
        "--output", default="var/contracts/asyncapi.html", help="html: where to write the page"
    )
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
    if args.command == "html":
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        document = asyncapi.build_document(loaded.catalogue, version=catalogue_version())
        output.write_text(render_html(document))
        print(f"wrote {output}")
        return 0
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
