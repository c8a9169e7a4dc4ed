"""The import direction: app/pages → ui → core → connectors, never back."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", ["core", "connectors"])
def test_no_streamlit_below_ui(package):
    offenders = [p.relative_to(ROOT) for p in python_files(package) if "streamlit" in imported_modules(p)]
    assert offenders == []


def test_connectors_never_import_core_ui_or_pages():
    offenders = [
        p.relative_to(ROOT)
        for p in python_files("connectors")
        if imported_modules(p) & {"core", "ui", "pages", "app"}
    ]
    assert offenders == []


def test_core_never_imports_ui_or_pages():
    offenders = [
        p.relative_to(ROOT) for p in python_files("core") if imported_modules(p) & {"ui", "pages", "app"}
    ]
    assert offenders == []


def test_the_checker_sees_imports():
    # guards the guard: the parser must report what a file imports
    assert {"streamlit", "core"} <= imported_modules(ROOT / "ui" / "state.py")


def test_importing_the_engine_does_not_load_great_expectations():
    code = "import sys, core.services, core.ingest, core.__main__; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
