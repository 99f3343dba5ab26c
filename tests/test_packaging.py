"""The distribution as pip sees it: its name and version, its declared dependencies, where it is imported from."""

from __future__ import annotations

import ast
import importlib.metadata as md
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import opensips
import opensips_tui

CHECKOUT = Path(__file__).resolve().parents[1]
OURS = {"opensips", "opensips_tui"}
STDLIB = set(sys.stdlib_module_names) | {"tomllib"}  # tomllib: stdlib from 3.11, tomli before (declared)


def _requirements(extra: str | None = None) -> dict[str, Requirement]:
    """The dependencies, or those of one optional extra."""
    reqs = [Requirement(r) for r in md.requires("opensips") or []]
    if extra is not None:
        return {r.name.lower(): r for r in reqs if r.marker and r.marker.evaluate({"extra": extra})}
    return {r.name.lower(): r for r in reqs if not (r.marker and "extra" in str(r.marker))}


def test_distribution_is_opensips_above_0_1_11() -> None:
    """pip replaces the PyPI opensips 0.1.11 with this one instead of installing both over opensips/."""
    assert md.version("opensips") == opensips.__version__
    assert Version(opensips.__version__) > Version("0.1.11")


def _third_party_imports(root: Path) -> dict[str, str]:
    """Top-level module -> a file importing it, for every import in the package that is not stdlib."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in STDLIB and top not in OURS:
                    found.setdefault(top, str(path.relative_to(root.parent)))
    return found


def test_every_imported_distribution_is_declared() -> None:
    """httpcore is imported by opensips.mi.http, tomli on Python < 3.11: each is a declared dependency."""
    declared = _requirements()
    declared.update(_requirements("amqp"))   # pika: imported only when a RabbitMQ source is made
    by_module = md.packages_distributions()
    imported = {}
    for pkg in (opensips, opensips_tui):
        imported.update(_third_party_imports(Path(pkg.__file__).parent))
    assert {"httpx", "httpcore", "textual", "platformdirs", "tomli"} <= set(imported)
    for module, where in imported.items():
        dists = by_module.get(module, [module])
        assert any(d.lower() in declared for d in dists), f"{where} imports {module}, not declared"
    assert str(declared["tomli"].marker) == 'python_version < "3.11"'
    assert declared["httpcore"].specifier and declared["textual"].specifier


def test_tests_run_against_the_installed_package() -> None:
    """.ci/run sets OPENSIPS_TEST_INSTALLED: then neither we nor a `python -m` child may import the checkout."""
    if not os.environ.get("OPENSIPS_TEST_INSTALLED"):
        pytest.skip("only meaningful under .ci/run, which installs the package and sets OPENSIPS_TEST_INSTALLED")
    for mod in (opensips, opensips_tui):
        assert CHECKOUT not in Path(mod.__file__).resolve().parents, mod.__file__
    child = subprocess.run([sys.executable, "-c", "import opensips; print(opensips.__file__)"],
                           capture_output=True, text=True, timeout=60, check=True)
    assert CHECKOUT not in Path(child.stdout.strip()).resolve().parents, child.stdout
