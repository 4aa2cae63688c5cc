"""House rules that no linter checks for us: one version, short functions."""

from __future__ import annotations

import ast
import re

import openpipeline
from tests.helpers.cli import REPO, run_cli

LONGEST_FUNCTION = 80  # lines; STYLE.md: more than ~80 lines usually holds two jobs


def test_the_version_is_written_once():
    """module.mod's three Maya versions and the CLI report openpipeline.__version__."""
    module = (REPO / "module.mod").read_text(encoding="utf-8")
    versions = re.findall(r"^\+ MAYAVERSION:\d+ openpipeline (\S+) \.$", module, flags=re.M)
    assert versions == [openpipeline.__version__] * 3
    assert run_cli("--version").stdout.split() == ["openpipeline", openpipeline.__version__]
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject and "\nversion =" not in pyproject.split("[tool.")[0]


def _functions(root):
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.relative_to(REPO), node


def test_no_function_is_longer_than_a_screen():
    """Every function of the package, the plug-in and the benchmarks fits in 80 lines."""
    long = [f"{path}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for folder in ("openpipeline", "plugin", "bench")
            for path, node in _functions(REPO / folder)
            if node.end_lineno - node.lineno + 1 > LONGEST_FUNCTION]
    assert not long, long
