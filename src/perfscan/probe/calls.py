"""Exact call counts of the project's own functions, for the sampling engine.

Samples give shares, not counts; the repeated-computation pattern needs exact counts (total
and primitive) and the async pass needs the exact set of project functions that ran. Hooks
that see every call cost as much as cProfile (sys.settrace and setprofile deoptimise the whole
interpreter on 3.11; a sys.monitoring callback per call is a Python call per call, 5-7x on
a small recursive function). So the counting is compiled into the project's own functions:

- An import hook (first on sys.meta_path) compiles project modules from source with one
  statement added at the top of each def body: `__perfscan_probe_calls__[i] += 1`. The name is a
  builtin, so it resolves in any globals; rebinding it at phase boundaries files counts by
  phase at no cost per call. Line numbers are unchanged (the statement takes the first
  statement's position); no bytecode is written to any cache.
- Primitive calls (docs/design.md: total vs primitive, for recursion): a plain def whose body calls
  its own name gets a depth counter instead (`if depth[i]: nonprimitive[i] += 1 else: calls[i]
  += 1; depth[i] += 1; try: <body> finally: depth[i] -= 1`). Generators and coroutines are not
  depth-counted (a suspended one would keep its depth), nor is recursion through another
  function (a -> b -> a counts as primitive): that can hide a repeated-computation label, never
  invent one. The depth is per process, not per thread.
- Counting is not free on a tiny hot function (count_paths-like: ~1.6x with the counter, ~2.8x
  with the depth counter). The probe times both prologues against an empty function at the
  start and at the end (`cost_ns`, the lower of the two) so the host can take calls x cost out
  of the function's sampled time.
- Project modules imported before the hook (by conftest.py, which pytest loads before any
  plugin's configure) are compiled the same way and their functions get the counted code in
  place (`function.__code__`), found with one scan of the garbage collector's objects.
- Call sites that can wait (a sleep, a statement, a socket, a lock) get counters of their own
  in the same compile step (sitecounts.py), and the database statements the tests run are
  counted by project line and shape (queries.py): the waiting patterns report how many.
- Loop iterations (`loops=True`, the plain run only): loops.py.
- "Project" here is a cheap over-approximation of the host's rule: a .py file under the
  working folder (the project root), outside virtual environments, site-packages, test folders
  and test files, or a module of one of the project's packages by name, wherever it was imported
  from (an installed copy; its file is mapped to the scanned source on export, projectmap.py);
  the host filters again.
"""

import ast
import builtins
import gc
import os
import sys
import types
from importlib.machinery import SourceFileLoader
from typing import Any, Dict, List

from .clocks import thread_time
from .edits import increment as _increment
from .edits import item as _item
from .edits import locate as _locate
from .loops import LoopCounter
from .paths import is_test_file
from .projectcode import PROBE_DIR, is_project_file
from .projectmap import current as project_map
from .projectmap import to_project
from .queries import QueryRecorder
from .sitecounts import SITES, SiteCounter

CALLS = (
    "__perfscan_probe_calls__"  # per phase: calls that were not recursive (all calls of a def without a depth counter)
)
REC = "__perfscan_probe_rec__"  # per phase: recursive calls (made while the same def was running)
DEPTH = "__perfscan_probe_depth__"  # how many frames of each depth-counted def are running
PHASES = ("setup", "call", "teardown")


class CallCounter:
    def __init__(self, root, loops=False):
        self.root = os.path.realpath(root)
        # the project's root as given and as resolved: a module's path is matched as a string
        self._roots = tuple(dict.fromkeys((self.root, os.path.abspath(root))))
        self.functions = []  # [file, first line (decorators included, as code objects say), name, recursion checked]
        self.calls: Dict[str, List[int]] = {p: [] for p in PHASES + ("",)}  # "" = outside the profiled phases
        self.nonprimitive: Dict[str, List[int]] = {p: [] for p in PHASES + ("",)}
        self.modules = 0
        self.patched = 0
        self.errors = []
        self._current = [self.calls[""], self.nonprimitive[""]]
        self.depth = []
        self.cost_ns = {}
        self._finder = None
        self._project = {}
        self.sites = SiteCounter()
        self.queries = QueryRecorder(self.root)
        self.loops = LoopCounter() if loops else None

    # -- which files
    def is_project(self, filename):
        found = self._project.get(filename)
        if found is None:
            found = self._project[filename] = self._classify(filename)
        return found

    def is_project_module(self, name, filename):
        """A module of one of the project's packages, wherever it was imported from (an installed
        copy, another checkout: the host maps its file to the scanned source), or a project file."""
        if project_map().is_project_module(name) and filename.endswith(".py"):
            return not is_test_file(os.path.basename(filename)) and not filename.startswith(PROBE_DIR)
        return self.is_project(filename)

    def _classify(self, filename):
        # called by the import hook, maybe inside a running event loop (projectcode.py)
        return is_project_file(filename, self._roots)

    # -- lifetime
    def install(self):
        setattr(builtins, CALLS, self._current[0])
        setattr(builtins, REC, self._current[1])
        setattr(builtins, DEPTH, self.depth)
        setattr(builtins, SITES, self.sites.table(""))
        why = self.queries.install()
        if why:
            self.errors.append("statements not counted: %s" % why)
        if self.loops is not None:
            self.loops.install()
        self.cost_ns = _calibrate(self)
        self._finder = _Finder(self)
        sys.meta_path.insert(0, self._finder)
        self._patch_loaded()

    def uninstall(self):
        if self._finder is not None and self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
            # again at the end, keeping the cheaper figure per kind: a calibration slowed by a
            # busy neighbour would take too much out of the counted functions
            later = _calibrate(self)
            for kind, ns in later.items():
                if kind not in self.cost_ns or ns < self.cost_ns[kind]:
                    self.cost_ns[kind] = ns
        # counted code may still run (atexit, other plugins): keep the names, stop filing by phase
        self.stop(None)
        self.queries.stop()

    def start(self, phase):
        self._bind(self.calls.get(phase, self.calls[""]), self.nonprimitive.get(phase, self.nonprimitive[""]))
        setattr(builtins, SITES, self.sites.table(phase))
        self.queries.start_phase(phase)

    def stop(self, phase):
        self._bind(self.calls[""], self.nonprimitive[""])
        setattr(builtins, SITES, self.sites.table(""))
        self.queries.stop_phase()

    def _bind(self, calls, nonprimitive):
        self._current[0] = calls
        self._current[1] = nonprimitive
        setattr(builtins, CALLS, calls)
        setattr(builtins, REC, nonprimitive)

    # -- compiling
    def register(self, filename, first_line, name, recursive):
        index = len(self.functions)
        self.functions.append([filename, first_line, name, recursive])
        for table in (self.calls, self.nonprimitive):
            for arr in table.values():
                arr.append(0)
        self.depth.append(0)
        return index

    def compile(self, source, filename):
        tree = ast.parse(source, filename)
        _Instrument(self, filename).visit(tree)
        self.sites.instrument(tree, filename)
        self.modules += 1
        return compile(tree, filename, "exec", dont_inherit=True)

    def _patch_loaded(self):
        """Give the functions of project modules imported before the hook their counted code."""
        files = {}
        for name, mod in list(sys.modules.items()):
            filename = getattr(mod, "__file__", None)
            if isinstance(filename, str) and self.is_project_module(name, filename) and filename not in files:
                files[filename] = name
        if not files:
            return
        replacement = {}
        for filename in files:
            try:
                with open(filename, "rb") as fh:
                    source = fh.read()
                plain = compile(source, filename, "exec", dont_inherit=True)
                code = self.compile(source, filename)
            except Exception as exc:  # the module keeps its code; its calls go uncounted
                self.errors.append("calls not counted in %s: %s: %s" % (filename, type(exc).__name__, exc))
                continue
            # the running code must be what the file says now: a file edited since its import
            # keeps its running code (and goes uncounted) rather than running the new text
            as_written = {(c.co_firstlineno, c.co_name): c.co_code for c in _code_objects(plain)}
            for sub in _code_objects(code):
                replacement[(sub.co_filename, sub.co_firstlineno, sub.co_name)] = (
                    sub,
                    as_written.get((sub.co_firstlineno, sub.co_name)),
                )
        if not replacement:
            return
        for obj in gc.get_objects():
            if type(obj) is not types.FunctionType:
                continue
            code = obj.__code__
            found = replacement.get((code.co_filename, code.co_firstlineno, code.co_name))
            if found is None or found[0] is code or found[1] != code.co_code:
                continue
            try:
                obj.__code__ = found[0]
                self.patched += 1
            except (ValueError, TypeError):  # closure cells differ: left uncounted
                pass

    # -- output
    def export(self):
        phases = {}
        for phase in PHASES:
            calls, nonprim = self.calls[phase], self.nonprimitive[phase]
            # [function index, total calls, recursive calls]
            phases[phase] = [
                [i, calls[i] + nonprim[i], nonprim[i]] for i in range(len(calls)) if calls[i] or nonprim[i]
            ]
        return {
            "method": "compiled counters",
            "functions": [[to_project(f[0])] + list(f[1:]) for f in self.functions],
            "phases": phases,
            "modules": self.modules,
            "patched": self.patched,
            "cost_ns": self.cost_ns,
            "sites": self.sites.export(),
            "queries": self.queries.export(),
            "loops": self.loops.export() if self.loops is not None else [],
        }


def _code_objects(code):
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield const
            for sub in _code_objects(const):
                yield sub


class _Instrument(ast.NodeTransformer):
    def __init__(self, counter, filename):
        self.counter = counter
        self.filename = filename

    def visit_FunctionDef(self, node):
        self.generic_visit(node)
        if not node.body:
            return node
        if self.counter.loops is not None:
            self.counter.loops.instrument(self.filename, node)
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        depth = isinstance(node, ast.FunctionDef) and _calls_itself(node) and not _is_generator(node)
        index = self.counter.register(self.filename, first, node.name, depth)
        at = 1 if _is_docstring(node.body[0]) else 0
        anchor = node.body[min(at, len(node.body) - 1)]
        if depth:
            head = [
                ast.If(_item(DEPTH, index, ast.Load()), [_increment(REC, index, 1)], [_increment(CALLS, index, 1)]),
                _increment(DEPTH, index, 1),
            ]
            rest = node.body[at:] or [ast.Pass()]
            guarded = ast.Try(rest, [], [], [_increment(DEPTH, index, -1)])
            for stmt in head + [guarded.finalbody[0]]:
                _locate(stmt, anchor)
            guarded.lineno, guarded.col_offset = anchor.lineno, anchor.col_offset
            guarded.end_lineno = getattr(node.body[-1], "end_lineno", anchor.lineno)
            guarded.end_col_offset = getattr(node.body[-1], "end_col_offset", anchor.col_offset)
            if not node.body[at:]:
                _locate(rest[0], anchor)
            node.body[at:] = head + [guarded]
        else:
            stmt = _increment(CALLS, index, 1)
            _locate(stmt, anchor)
            node.body.insert(at, stmt)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef


def _is_generator(node):
    stack = list(node.body)
    while stack:
        cur = stack.pop()
        if isinstance(cur, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(cur, (ast.Yield, ast.YieldFrom)):
            return True
        stack.extend(ast.iter_child_nodes(cur))
    return False


def _is_docstring(stmt):
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _calls_itself(node):
    name = node.name
    stack = list(node.body)
    while stack:
        cur = stack.pop()
        if isinstance(cur, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue  # a nested def is another function
        if isinstance(cur, ast.Call):
            f = cur.func
            if (isinstance(f, ast.Name) and f.id == name) or (isinstance(f, ast.Attribute) and f.attr == name):
                return True
        stack.extend(ast.iter_child_nodes(cur))
    return False


class _Finder:
    """Delegates to the other finders; hands project source files to the counting loader."""

    def __init__(self, counter):
        self.counter = counter
        self._busy = False

    def find_spec(self, fullname, path=None, target=None):
        if self._busy:
            return None
        self._busy = True
        try:
            spec = None
            for finder in sys.meta_path:
                if finder is self:
                    continue
                find = getattr(finder, "find_spec", None)
                if find is None:
                    continue
                spec = find(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self._busy = False
        if spec is None:
            return None
        loader = spec.loader
        if (
            type(loader) is SourceFileLoader
            and isinstance(spec.origin, str)
            and self.counter.is_project_module(fullname, spec.origin)
        ):
            spec.loader = _Loader(fullname, spec.origin, self.counter)
        return spec

    def invalidate_caches(self):
        pass


class _Loader(SourceFileLoader):
    def __init__(self, fullname, path, counter):
        SourceFileLoader.__init__(self, fullname, path)
        self.counter = counter

    def get_code(self, fullname):
        try:
            return self.counter.compile(self.get_data(self.path), self.path)
        except Exception as exc:  # the module runs as written; its calls go uncounted
            self.counter.errors.append("calls not counted in %s: %s: %s" % (self.path, type(exc).__name__, exc))
            return SourceFileLoader.get_code(self, fullname)


_CALIBRATION = """
def empty(n):
    return n

def counted(n):
    return n

def depth_counted(n):
    if n < 0:
        return depth_counted(n)
    return n
"""


def _calibrate(counter, calls=20000, rounds=7):
    """Nanoseconds each prologue adds to a call, on this interpreter and machine (min of rounds).

    The timed functions are registered under a name no project file has, so the host ignores
    their counts.
    """
    try:
        tree = ast.parse(_CALIBRATION)
        _Instrument(counter, "<perfscan-calibration>").visit(ast.Module([n for n in tree.body[1:]], []))
        ast.fix_missing_locations(tree)
        ns: Dict[str, Any] = {}
        exec(compile(tree, "<perfscan-calibration>", "exec"), ns)
        best: Dict[str, float] = {}  # no rounds leaves it empty: the KeyError below returns {}
        loop = range(calls)
        for _ in range(rounds):
            for name in ("empty", "counted", "depth_counted"):
                fn = ns[name]
                t0 = thread_time()
                for i in loop:
                    fn(i)
                dt = thread_time() - t0
                if name not in best or dt < best[name]:
                    best[name] = dt
        base = best["empty"]
        return {
            "count": max(0.0, (best["counted"] - base) / calls * 1e9),
            "depth": max(0.0, (best["depth_counted"] - base) / calls * 1e9),
        }
    except Exception:
        return {}
