"""The layout shows data flowing one way: imports between cds_service's packages are read with `ast` (every
import, module level or inside a function, and `importlib.import_module("...")` of a literal name) and checked
against the allowed direction, so an arrow that runs back up cannot come back unnoticed.

    HTTP -> protocol -> gathering -> facts -> pathway -> render(cards) -> response

- `cds_service.guideline` (the guideline as data) imports nothing of cds_service above it;
- the flow's steps import only earlier steps (protocol < gathering < facts < pathway < render);
- `cds_service.store` does not import the render step (nor the steps between);
- cds_service never imports fhir_fixtures, tests or benchmarks (fhir_fixtures may use cds_service).

The two arrows removed last (guideline/config.py -> facts.model, ops/health.py -> store.migrate) keep a test each.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "cds_service"

FLOW = ("protocol", "gathering", "facts", "pathway", "render")  # the steps, in the data's order
OUTSIDE = ("fhir_fixtures", "tests", "benchmarks")  # never imported by the product

# Arrows still allowed against the rules below (source file, imported module): none now. An entry here is
# a debt to remove, checked one by one with known_too=True.
KNOWN: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    source: str  # the importing file, relative to the repository
    target: str  # the dotted module imported
    line: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


def _imports_of(text: str, source: str) -> list[Import]:
    """Every import in `text`, the file at `source` (relative to the repository, `/`-separated)."""
    package = ".".join(source.removesuffix(".py").split("/")[:-1])
    found: list[Import] = []
    for node in ast.walk(ast.parse(text, filename=source)):
        if isinstance(node, ast.Import):
            found += [Import(source, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this file's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append(Import(source, module, node.lineno))
            if node.module is None or "." not in module:  # `from cds_service import render`, `from .. import facts`
                found += [Import(source, f"{module}.{alias.name}", node.lineno) for alias in node.names]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")):
            found.append(Import(source, node.args[0].value, node.lineno))
    return found


@cache
def all_imports() -> tuple[Import, ...]:
    return tuple(imp for path in sorted(PACKAGE.rglob("*.py"))
                 for imp in _imports_of(path.read_text(), path.relative_to(REPO).as_posix()))


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _violations(importer: str, forbidden: list[str], *, known_too: bool = False) -> list[str]:
    """Imports from files of the `importer` package (dotted) of any module under a `forbidden` package."""
    prefix = importer.replace(".", "/")
    return sorted({
        str(imp) for imp in all_imports()
        if (imp.source.startswith(prefix + "/") or imp.source == prefix + ".py")
        and any(_under(imp.target, f) for f in forbidden)
        and (known_too or not any(imp.source == s and _under(imp.target, t) for s, t in KNOWN))
    })


def _cds_packages() -> list[str]:
    return sorted(p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
                  if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "__init__"))


def test_the_scan_sees_every_kind_of_import() -> None:
    # The checks below are only as good as the scan: module level, lazy, relative, from a package, by name.
    text = (
        "import cds_service.render.cards\n"
        "from cds_service import pathway\n"
        "from .. import facts\n"
        "from ..store.models import IssuedCard\n"
        "def later():\n"
        "    from fhir_fixtures.catalog import PATIENTS\n"
        "    importlib.import_module('tests.support')\n"
    )
    targets = {imp.target for imp in _imports_of(text, "cds_service/guideline/probe.py")}
    assert {"cds_service.render.cards", "cds_service.pathway", "cds_service.facts", "cds_service.store.models",
            "fhir_fixtures.catalog", "tests.support"} <= targets
    targets = {imp.target for imp in all_imports()}
    assert "cds_service.guideline.nodes" in targets  # module level, many files
    assert "cds_service.invocation" in targets
    assert len(all_imports()) > 300


def test_guideline_imports_nothing_above_it() -> None:
    above = [f"cds_service.{p}" for p in _cds_packages() if p != "guideline"]
    assert _violations("cds_service.guideline", above) == []


@pytest.mark.parametrize("step", FLOW)
def test_each_step_imports_only_earlier_steps(step: str) -> None:
    later = [f"cds_service.{s}" for s in FLOW[FLOW.index(step) + 1:]]
    assert _violations(f"cds_service.{step}", later + ["cds_service.invocation", "cds_service.routes",
                                                       "cds_service.app"]) == []


def test_store_does_not_import_the_render_step() -> None:
    assert _violations("cds_service.store", ["cds_service.render", "cds_service.pathway", "cds_service.facts",
                                             "cds_service.gathering", "cds_service.invocation",
                                             "cds_service.routes", "cds_service.app"]) == []


def test_cds_service_never_imports_fixtures_tests_or_benchmarks() -> None:
    assert _violations("cds_service", list(OUTSIDE)) == []


def test_known_arrow_guideline_config_to_facts_model() -> None:
    assert _violations("cds_service.guideline", ["cds_service.facts"], known_too=True) == []


def test_known_arrow_ops_health_to_store_migrate() -> None:
    assert [v for v in _violations("cds_service.ops", ["cds_service.store.migrate"], known_too=True)
            if v.startswith("cds_service/ops/health.py:")] == []
