"""The layout holds: imports point one way (workers -> tasks -> vendors), no module imports
itself round a circle, at most one import runs back up, and workers/ stays small at its top.

The graph is scripts/importgraph's (the standard library's ast; every import counts, lazy
ones inside functions too); its summary is in every failure message.
"""

from __future__ import annotations

import importlib.util
import sys
from importlib.machinery import SourceFileLoader
from pathlib import Path

import pytest

#: the project root, wherever in tests/ this file lives
ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
MAX_WORKERS_TOP = 16
MAX_BACK_UP = 1


def _load_script(name: str, path: Path):
    # scripts/importgraph has no .py suffix (it is a command): load it by its path
    spec = importlib.util.spec_from_loader(name, SourceFileLoader(name, str(path)))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


importgraph = _load_script("importgraph", ROOT / "scripts" / "importgraph")


@pytest.fixture(scope="module")
def graph():
    return importgraph.build(ROOT)


def imports_of(graph, package: str) -> dict[str, set[str]]:
    """module -> the top-level names it imports, for each module of `package`."""
    return {m: names for m, names in graph.externals.items() if m == package or m.startswith(package + ".")}


def test_vendors_import_no_celery_tasks_or_workers(graph):
    bad = {m: sorted(names & {"celery", "kombu", "tasks", "workers"}) for m, names in imports_of(graph, "vendors").items()}
    assert not {m: n for m, n in bad.items() if n}, importgraph.summary(graph)


def test_tasks_import_no_workers(graph):
    bad = [m for m, names in imports_of(graph, "tasks").items() if "workers" in names]
    assert not bad, f"{bad}\n{importgraph.summary(graph)}"


def test_no_import_cycles(graph):
    assert importgraph.cycles(graph) == [], importgraph.summary(graph)


def test_at_most_one_import_runs_back_up(graph):
    assert len(importgraph.back_up(graph)) <= MAX_BACK_UP, importgraph.summary(graph)


def test_workers_top_is_small():
    # modules and packages: what a newcomer reads there (not __pycache__ or a stray file a tool left)
    top = {p.name for p in (ROOT / "workers").iterdir()
           if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())}
    assert len(top) <= MAX_WORKERS_TOP, sorted(top)


def test_the_graph_finds_a_cycle_and_an_import_back_up(tmp_path):
    # The checks above would pass on a graph that finds nothing: show that it does find them.
    pkg = tmp_path / "workers"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("import workers.b\nimport workers.sub.c\n")
    (pkg / "b.py").write_text("def f():\n    from workers import a\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("from workers.a import x\n")
    graph = importgraph.build(tmp_path, packages=("workers",))
    assert importgraph.cycles(graph) == [["workers.a", "workers.b", "workers.sub.c"]]
    assert importgraph.back_up(graph) == [("workers.sub.c", "workers.a")]
