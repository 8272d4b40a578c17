"""Print the third-party dependencies of the given pyproject.toml files, one per line (Warren's own skipped).

Lets the image install dependencies before any source is copied, so a code change keeps that layer cached.
"""

import sys
import tomllib

seen: list[str] = []
for path in sys.argv[1:]:
    with open(path, "rb") as file:
        for requirement in tomllib.load(file)["project"].get("dependencies", []):
            if not requirement.startswith("warren-") and requirement not in seen:
                seen.append(requirement)
print("\n".join(seen))
