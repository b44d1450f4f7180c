"""The experiments package imports one way: runner -> per-article modules -> common."""

import ast
import subprocess
import sys
from pathlib import Path

import nnscratch.experiments as experiments
from nnscratch.experiments import runner

PACKAGE = Path(experiments.__file__).parent
SHARED = {"__init__", "common", "runner"}
ARTICLES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in SHARED)


def package_imports(path: Path) -> set[str]:
    """The modules of ``nnscratch.experiments`` that a file imports, at any depth in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:  # from .x import y, or from . import x
                found |= {node.module} if node.module else {a.name for a in node.names}
            elif node.level == 0 and (node.module or "").startswith("nnscratch.experiments"):
                rest = node.module.removeprefix("nnscratch.experiments").lstrip(".")
                found |= {rest} if rest else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("nnscratch.experiments."):
                    found.add(alias.name.split(".")[2])
    return found


def test_article_modules_import_only_common():
    assert ARTICLES == ["nielsen_ch6", "saito_ch7", "seed000", "seed002", "seed003", "seed004"]
    for name in ARTICLES:
        assert package_imports(PACKAGE / f"{name}.py") <= {"common"}, name
    assert package_imports(PACKAGE / "common.py") == set()


def test_runner_registers_every_article_module():
    registered = {fn.__module__.rsplit(".", 1)[1] for fn in runner.REGISTRY.values()}
    assert registered == set(ARTICLES)
    assert runner.EXPERIMENTS == tuple(runner.REGISTRY)


def test_each_article_module_imports_alone_without_the_runner():
    for name in ARTICLES:
        code = (
            "import sys, importlib; "
            f"importlib.import_module('nnscratch.experiments.{name}'); "
            "print('nnscratch.experiments.runner' in sys.modules)"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "False", name
