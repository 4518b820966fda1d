"""The installed package is the source tree: every Python package under cds_service/ and fhir_fixtures/ is listed
in pyproject.toml's explicit `packages` (a package left out installs nothing, and `make serve`, which installs
with `pip install .`, fails at import), and every data file a package reads is in its package-data."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Files no installed service reads: Alembic's template for writing a new migration (a developer's tool).
NOT_READ_WHEN_INSTALLED = {"cds_service.store.migrations: script.py.mako"}


def _setuptools() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def _packages_on_disk() -> set[str]:
    found = set()
    for top in ("cds_service", "fhir_fixtures"):
        for init in (REPO / top).rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            found.add(".".join(init.parent.relative_to(REPO).parts))
    return found


def test_every_package_of_the_source_tree_is_installed() -> None:
    listed = set(_setuptools()["packages"])
    # cds_service.cards is the link to cards/ (its __init__.py is cards/__init__.py), found through the link.
    assert _packages_on_disk() - listed == set()


def test_every_data_file_of_a_package_ships() -> None:
    data = _setuptools().get("package-data", {})
    missing = []
    for package in _packages_on_disk():
        folder = REPO.joinpath(*package.split("."))
        if package == "cds_service.cards" or not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_file() and path.suffix not in {".py", ".pyc"}:
                patterns = data.get(package, [])
                if not any(fnmatch.fnmatch(path.name, p) for p in patterns):
                    missing.append(f"{package}: {path.name}")
    assert sorted(set(missing) - NOT_READ_WHEN_INSTALLED) == []
