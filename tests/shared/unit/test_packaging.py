import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_every_shared_subpackage_is_listed_in_pyproject_when_it_has_an_init() -> None:
    listed = set(
        tomllib.loads((ROOT / "shared/pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    on_disk = {
        "shared" + "".join(f".{part}" for part in init.parent.relative_to(ROOT / "shared").parts)
        for init in (ROOT / "shared").rglob("__init__.py")
        if "tests" not in init.parts
    }
    assert on_disk - listed == set(), "add these to shared/pyproject.toml [tool.setuptools] packages"
