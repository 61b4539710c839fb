"""The package's shape: every module imports, no import cycle, the probe an island, the tables complete."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest

import perfscan
from perfscan.astutil import absolute_module, package_of
from perfscan.models import DOMAINS
from perfscan.passes.registry import PASSES
from perfscan.probe_host import install_probe
from perfscan.report.formats import EXTRA_FORMATS, REPORT_TWINS
from perfscan.settings import FORMATS

SRC = Path(perfscan.__file__).resolve().parent

# import edges allowed to close a cycle: none
ALLOWED_CYCLE_EDGES: set = set()


def _modules() -> Dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _import_graph() -> Dict[str, Set[str]]:
    """perfscan module -> the perfscan modules it imports when it is loaded.

    Only imports that run at load time count (module level, including under `if` and `try`, and
    class bodies): an import inside a function runs after both modules are loaded, so it cannot
    meet a half-initialised module, and it is the accepted way to keep a heavy module lazy.
    """
    modules = _modules()
    graph: Dict[str, Set[str]] = {}
    for name, path in modules.items():
        package = package_of(name, path.name == "__init__.py")
        edges: Set[str] = set()
        stack: List[ast.AST] = list(ast.parse(path.read_text(encoding="utf-8")).body)
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = absolute_module(node.module, node.level, package)
                # `from pkg import submodule` needs only the submodule, even from a half-loaded pkg
                for a in node.names if base else ():
                    edges.add(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
            stack.extend(ast.iter_child_nodes(node))
        graph[name] = {e for e in edges if e in modules and e != name and (name, e) not in ALLOWED_CYCLE_EDGES}
    return graph


def _cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """One cycle through each strongly connected group of modules (Tarjan's algorithm)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    groups: List[List[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups


def test_no_import_cycle():
    graph = _import_graph()
    assert graph["perfscan.scan"] >= {"perfscan.passes.registry", "perfscan.report.formats"}  # the graph sees imports
    assert _cycles(graph) == []


def test_cycles_are_found():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize(
    "name", [n for n in _modules() if not n.startswith("perfscan.probe.") and not n.endswith("__main__")]
)
def test_every_host_module_imports(name):
    importlib.import_module(name)


def test_the_probe_stands_alone(tmp_path):
    """Installed as the child sees it, every probe module imports and loads nothing of the host."""
    probe = install_probe(tmp_path / "work")
    names = sorted(p.stem for p in (probe / "perfscan_probe").glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert {"paths", "contract", "calls", "memory"} <= set(names)
    code = (
        "import importlib, json, sys\n"
        f"for n in {names!r}: importlib.import_module('perfscan_probe.' + n)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'perfscan' or m.startswith('perfscan.'))))\n"
    )
    env = {"PYTHONPATH": str(probe), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_pass_table_matches_the_settings():
    assert tuple(p.domain for p in PASSES) == DOMAINS
    for spec in PASSES:
        assert callable(spec.load()), spec.domain


def test_format_table_matches_the_settings():
    assert tuple(EXTRA_FORMATS) == FORMATS
    for fmt in REPORT_TWINS + tuple(EXTRA_FORMATS.values()):
        module = importlib.import_module(fmt.module)
        assert callable(getattr(module, fmt.function)), fmt.name
