"""Dependencies point one way: ``runners`` -> ``methods``/``baselines`` -> ``genrec_bench``.

A runner only parses arguments and prints; what two runners share lives in the core. So no
runner imports another runner's module, the core imports none of ``runners``, ``methods`` or
``baselines``, and ``runners/run.py`` stays a thin command line over ``genrec_bench.run``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNNERS = sorted((REPO / "runners").glob("*.py"))
CORE = sorted((REPO / "genrec_bench").rglob("*.py"))
#: runners another change of issue #21 takes off another runner's module (table2 reads METRICS
#: and SHORT from runners.table1); remove the entry once that change is in


def imported_modules(source: str, package: str) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in ``source`` (a module of ``package``): relative
    imports resolved, ``from a import b`` as both ``a`` and ``a.b``, and
    ``importlib.import_module("...")`` / ``__import__("...")`` of a literal name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[:len(parts) - node.level + 1]) if node.level else ""
            module = ".".join(filter(None, (base, node.module)))
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value))
    return found


def other_runners(source: str, stem: str) -> list[str]:
    """The ``runners.<name>`` modules other than ``runners.<stem>`` that ``source`` imports."""
    names = {module.split(".")[1] for _, module in imported_modules(source, "runners")
             if module.startswith("runners.")}
    return sorted(f"runners.{name}" for name in names - {stem})


@pytest.mark.parametrize("path", RUNNERS, ids=lambda p: p.name)
def test_no_runner_imports_another_runner(path):
    assert other_runners(path.read_text(), path.stem) == [], f"{path.name} imports another runner's module"


def test_the_import_check_sees_every_form():
    examples = {"import runners.table1": "table1", "from runners import table1": "table1",
                "from runners.table1 import METRICS": "table1", "from . import compare": "compare",
                "from .curves import main": "curves", "from runners import curves, table2": "curves table2",
                "import importlib\nimportlib.import_module('runners.efficiency')": "efficiency",
                "__import__('runners.rescore')": "rescore"}
    for source, names in examples.items():
        assert other_runners(source, "run") == [f"runners.{name}" for name in names.split()], source
    assert other_runners("from runners.run import main\nimport runners\nimport genrec_bench.cli", "run") == []


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(REPO)))
def test_the_core_imports_no_runner_method_or_baseline(path):
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    outside = [f"line {line}: {module}" for line, module in imported_modules(path.read_text(), package)
               if module.split(".")[0] in ("runners", "methods", "baselines")]
    assert outside == [], f"{path.relative_to(REPO)} imports {outside}"


def test_runners_run_is_a_thin_command_line():
    lines = (REPO / "runners" / "run.py").read_text().splitlines()
    assert len(lines) < 120, f"runners/run.py has {len(lines)} lines: the run belongs in genrec_bench/experiment"
