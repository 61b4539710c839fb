"""Memory pass: what is alive at each test's peak, attributed to project functions; per-request growth.

The probe (perfscan/probe/memory.py) runs the target tests with tracemalloc and a return hook
that snapshots at each phase's high-water marks, and reduces every snapshot to bytes per line of
the innermost project frame. Here those lines are grouped by their enclosing project function
(comprehensions and lambdas fold into the def around them, by line range), and a group's size is
the most it held at any one test's peak. Groups above 1 MiB are `large-allocation` findings; the
allocating line's expression gives the category and reducibility.

A first run traces 1 frame per allocation (cheap); when a phase's peak holds 1 MiB or more in
library frames (no project frame seen), a second run traces 25 frames during those phases only
and attributes those bytes to the project function that called the library.

Module-level containers that grow on every repetition of the tests (asked for servers) are
`per-request-growth`; module-level values of 1 MiB or more at the start of the tests were made
at import and are `large-allocation` with phase "import".
"""
from __future__ import annotations

import ast
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from perfscan import catalog, children
from perfscan.models import Finding, Metric, PassResult, pytest_options_only
from perfscan.passes import PassContext, child_env
from perfscan.probe_host import run_probe
from perfscan.sources import FunctionInfo, functions_in, is_project_path, module_name, parse_source, relative_posix

MIB = 1024 * 1024
GROWTH_MIB = 1.0  # DESIGN.md: growth on every repetition "by 1 MiB or more in all"
DEEP_FRAMES = 25
DEEP_MAX_PHASES = 8
DEEP_MIN_SECONDS = 10.0  # time left below which the deep run is not started
DEEP_CAP_MIN_SECONDS = 20.0  # the deep run may always take this long, and as long as the measured run
REPLACE_MARGIN = 1.02  # a later peak must hold 2% more to take a group over (the same data stays with its first phase)
CACHE_DECORATORS = {"lru_cache", "cache", "cached", "memoize", "memoized", "cached_property"}
PARSERS = {("json", "loads"), ("json", "load"), ("pickle", "loads"), ("pickle", "load"), ("marshal", "loads"),
           ("yaml", "load"), ("yaml", "safe_load"), ("yaml", "full_load"), ("yaml", "load_all"), ("yaml", "safe_load_all"),
           ("tomllib", "loads"), ("tomllib", "load"), ("toml", "loads"), ("toml", "load"), ("csv", "reader"),
           ("csv", "DictReader"), ("ET", "fromstring"), ("ElementTree", "fromstring"), ("ET", "parse"),
           ("orjson", "loads"), ("ujson", "loads"), ("msgpack", "unpackb"), ("msgpack", "loads")}
BUFFER_METHODS = {"read", "readlines", "getvalue", "tobytes", "read_bytes", "read_text", "join", "encode", "decode",
                  "readall", "recv", "content"}


# -- locating lines in project functions

@dataclass
class _Where:
    rel: str
    module: str
    info: Optional[FunctionInfo]  # None: module level
    tree: ast.Module
    text: str


class _Locator:
    """Maps an absolute (file, line) from the probe to its project function, folding comprehensions."""

    def __init__(self, root: Path, source_roots: Sequence[Path], exclude: Sequence[str]):
        self.root = Path(os.path.realpath(root))
        self.source_roots = [Path(os.path.realpath(p)) for p in source_roots]
        self.exclude = tuple(exclude)
        self._files: Dict[str, Optional[Tuple[str, str, List[FunctionInfo], ast.Module, str]]] = {}
        self.notes: List[str] = []

    def file(self, filename: str) -> Optional[Tuple[str, str, List[FunctionInfo], ast.Module, str]]:
        if filename in self._files:
            return self._files[filename]
        found = None
        if filename and not filename.startswith("<"):
            path = Path(os.path.realpath(filename if os.path.isabs(filename) else self.root / filename))
            rel = relative_posix(path, self.root)
            if rel is not None and is_project_path(rel, self.exclude):
                parsed = parse_source(path)
                if parsed.tree is not None:
                    mod = module_name(path, self.source_roots) or rel[:-3].replace("/", ".")
                    found = (rel, mod, functions_in(parsed.tree), parsed.tree, parsed.text)
                elif parsed.note:
                    self.notes.append(parsed.note)
        self._files[filename] = found
        return found

    def locate(self, filename: str, line: int) -> Optional[_Where]:
        found = self.file(filename)
        if found is None:
            return None
        rel, mod, funcs, tree, text = found
        holders = [f for f in funcs if f.first_line <= line <= f.end_lineno]
        info = max(holders, key=lambda f: f.first_line) if holders else None
        return _Where(rel, mod, info, tree, text)


# -- what the allocating expression is

@dataclass(frozen=True)
class Category:
    category: str  # buffer | data structure | array | parsed data | cache
    reducibility: str  # high | medium | low | irreducible
    reason: str


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    return ""


def _statement_at(body_owner: ast.AST, line: int) -> Tuple[Optional[ast.stmt], List[ast.AST]]:
    """The innermost statement spanning `line`, and its ancestors (outermost first)."""
    best: Optional[ast.stmt] = None
    chain: List[ast.AST] = []

    def visit(node: ast.AST, ancestors: List[ast.AST]) -> None:
        nonlocal best, chain
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                end = getattr(child, "end_lineno", None) or child.lineno
                if child.lineno <= line <= end:
                    best, chain = child, ancestors + [node]
                    visit(child, ancestors + [node])
            elif isinstance(child, ast.excepthandler) or type(child).__name__ == "match_case":
                visit(child, ancestors + [node])

    visit(body_owner, [])
    return best, chain


def _in_loop(chain: Sequence[ast.AST], stmt: ast.stmt) -> bool:
    for node in list(chain) + [stmt]:
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            return True
    return False


def _nodes_on_line(stmt: ast.AST, line: int) -> List[ast.AST]:
    out = []
    for node in ast.walk(stmt):
        start = getattr(node, "lineno", None)
        if start is None:
            continue
        end = getattr(node, "end_lineno", None) or start
        if start <= line <= end:
            out.append(node)
    return out


def _number_kind(node: ast.AST) -> str:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant):
            if isinstance(sub.value, float):
                return "floats"
            if isinstance(sub.value, bool) or sub.value is None:
                return "objects"
            if isinstance(sub.value, int):
                return "ints"
    return "objects"


def _is_repeated_list(node: ast.AST) -> bool:
    """`[x] * n` or `n * [x]`."""
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult) and (
        isinstance(node.left, ast.List) or isinstance(node.right, ast.List))


def _target_names(stmt: ast.AST) -> List[str]:
    targets: List[ast.AST] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        targets = [stmt.target]
    return [_dotted(t.value if isinstance(t, ast.Subscript) else t) for t in targets]


def categorize(tree: ast.AST, func: Optional[ast.AST], line: int) -> Category:
    """Category and reducibility of what `line` allocates, from its expression (the AST)."""
    owner = func if func is not None else tree
    if func is not None:
        for deco in getattr(func, "decorator_list", []):
            if _dotted(deco).split(".")[-1] in CACHE_DECORATORS:
                return Category("cache", "medium", "memoized results kept for every distinct argument: bound the cache (maxsize) or key it on less")
    stmt, chain = _statement_at(owner, line)
    if stmt is None:
        return Category("data structure", "low", "data the code needs in this form: smaller only with another representation")
    nodes = _nodes_on_line(stmt, line)
    loop = _in_loop(chain, stmt)
    calls = [n for n in nodes if isinstance(n, ast.Call)]
    names = [n.lower() for n in _target_names(stmt)]

    # a slice copy per iteration, kept in a container
    slices = [n for n in nodes if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Slice)]
    if slices and loop:
        kept = any(isinstance(c.func, ast.Attribute) and c.func.attr in ("append", "extend", "insert", "add")
                   and any(s in list(ast.walk(c)) for s in slices) for c in calls)
        kept = kept or any(isinstance(t, ast.Subscript) for t in getattr(stmt, "targets", []))
        if kept:
            return Category("data structure", "high", "copies of a growing prefix kept for every checkpoint: store indexes (or one shared list) instead")
        return Category("data structure", "medium", "a slice copy on every iteration: iterate with indexes or itertools.islice")

    # dense arrays of Python numbers
    comps = [n for n in nodes if isinstance(n, (ast.ListComp, ast.GeneratorExp))]
    for comp in comps:
        if _is_repeated_list(comp.elt) or isinstance(comp.elt, (ast.ListComp, ast.List)) and any(_is_repeated_list(x) for x in ast.walk(comp.elt)):
            kind = _number_kind(comp.elt)
            return Category("array", "medium", f"dense n×n matrix of Python {kind}: use array/numpy or a sparse dict")
    for node in nodes:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            if _is_repeated_list(node):
                lst = node.left if isinstance(node.left, ast.List) else node.right
                if any(_is_repeated_list(x) or isinstance(x, ast.List) for x in lst.elts):
                    return Category("array", "medium", "nested lists of Python numbers: use array/numpy or a sparse dict")
                return Category("array", "medium", f"list of Python {_number_kind(lst)}: array.array or numpy stores each in 8 bytes")
            if isinstance(node.left, ast.Constant) and isinstance(node.left.value, (bytes, str)) or \
                    isinstance(node.right, ast.Constant) and isinstance(node.right.value, (bytes, str)):
                return Category("buffer", "medium", "one large buffer: stream it in chunks or use a memoryview")

    # parsed documents
    for call in calls:
        dotted = _dotted(call.func)
        parts = tuple(dotted.split(".")[-2:])
        if parts in PARSERS:
            return Category("parsed data", "medium", f"whole document parsed into Python objects ({dotted}): stream it or keep only the fields needed")

    # caches: stores into something named like one
    cache_words = ("cache", "memo", "_seen", "registry")
    if any(w in n for n in names for w in cache_words) or any(
            isinstance(c.func, ast.Attribute) and c.func.attr in ("setdefault", "__setitem__", "update")
            and any(w in _dotted(c.func.value).lower() for w in cache_words) for c in calls):
        return Category("cache", "medium", "cache without a bound: cap its size or evict old entries")

    # string building in a loop
    if loop and isinstance(stmt, (ast.Assign, ast.AugAssign)):
        value = stmt.value
        target = _target_names(stmt)
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, ast.Add) or (
                isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add) and target
                and target[0] in (_dotted(value.left), _dotted(value.right))):
            return Category("buffer", "high", "string rebuilt on every iteration: collect the parts in a list and join once")

    # buffers: whole reads, joins, encodings
    for call in calls:
        if isinstance(call.func, ast.Attribute) and call.func.attr in BUFFER_METHODS:
            if call.func.attr in ("read", "readlines", "read_bytes", "read_text", "readall") and not call.args:
                return Category("buffer", "medium", f"whole input read at once (.{call.func.attr}()): stream it in chunks")
            if call.func.attr in ("join", "encode", "decode", "getvalue", "tobytes"):
                return Category("buffer", "low", f"one buffer built by .{call.func.attr}(): needed in full only if it is sent or stored whole")
        if isinstance(call.func, ast.Name) and call.func.id in ("bytes", "bytearray", "memoryview"):
            return Category("buffer", "medium", "one large buffer: stream it in chunks or reuse it")

    # copies
    for call in calls:
        dotted = _dotted(call.func)
        if dotted.endswith("deepcopy") or dotted in ("copy.copy",):
            return Category("data structure", "medium", "copies of existing data: copy only what changes")
        if dotted in ("dict", "list", "set", "tuple", "sorted") and call.args:
            return Category("data structure", "medium", f"a full copy ({dotted}(...)): work on the original or a view if it is only read")

    # containers built element by element or in full
    if comps or any(isinstance(n, (ast.DictComp, ast.SetComp)) for n in nodes):
        if any(n.startswith("self.") for n in _target_names(stmt)):
            return Category("data structure", "low", "the object's own state: smaller only with a more compact representation")
        return Category("data structure", "medium", "built in full before use: a generator streams it if it is consumed once")
    if loop and any(isinstance(c.func, ast.Attribute) and c.func.attr in ("append", "extend", "add", "insert", "update")
                    for c in calls):
        return Category("data structure", "medium", "grown on every iteration and kept whole: stream the items or keep only what is needed")
    return Category("data structure", "low", "data the code needs in this form: smaller only with another representation")


# -- groups

@dataclass
class Group:
    rel: str
    module: str
    qualname: str
    symbol: str
    def_line: Optional[int]
    bytes: int = 0
    count: int = 0
    test: str = ""
    phase: str = ""
    phase_peak: int = 0
    lines: Dict[int, List[int]] = field(default_factory=dict)  # line -> [bytes, count] at the kept peak
    where: Optional[_Where] = None

    @property
    def biggest_line(self) -> int:
        if not self.lines:
            return self.def_line or 1
        return max(self.lines.items(), key=lambda kv: kv[1][0])[0]


def group_phase_lines(lines: Sequence[Sequence[Any]], locator: _Locator) -> Dict[Tuple[str, str], Group]:
    """One phase's [file, line, bytes, count] rows, summed per project function."""
    groups: Dict[Tuple[str, str], Group] = {}
    for row in lines:
        try:
            filename, line, size, count = str(row[0]), int(row[1]), int(row[2]), int(row[3])
        except (TypeError, ValueError, IndexError):
            continue
        where = locator.locate(filename, line)
        if where is None:
            continue
        if where.info is not None:
            qual, symbol, def_line = where.info.qualname, where.info.name, where.info.lineno
        else:
            qual, symbol, def_line = "<module>", where.module, None
        key = (where.rel, qual)
        g = groups.get(key)
        if g is None:
            g = groups[key] = Group(where.rel, where.module, qual, symbol, def_line, where=where)
        g.bytes += size
        g.count += count
        cur = g.lines.setdefault(line, [0, 0])
        cur[0] += size
        cur[1] += count
    return groups


def merge_peaks(phases: Sequence[Mapping[str, Any]], locator: _Locator) -> Dict[Tuple[str, str], Group]:
    """Each group at the test peak where it held the most (the first such peak on a near tie)."""
    best: Dict[Tuple[str, str], Group] = {}
    for ph in phases:
        rows = ph.get("lines") or []
        if not rows:
            continue
        for key, g in group_phase_lines(rows, locator).items():
            g.test = str(ph.get("test", ""))
            g.phase = "import" if g.qualname == "<module>" else str(ph.get("phase", "call"))
            g.phase_peak = max(int(ph.get("peak") or 0), int(ph.get("snapshot") or 0))
            old = best.get(key)
            if old is None or g.bytes > old.bytes * REPLACE_MARGIN:
                best[key] = g
    return best


def _source_line(text: str, line: int) -> str:
    lines = text.splitlines()
    if 1 <= line <= len(lines):
        return lines[line - 1].strip()
    return ""


def _mib(n: float) -> float:
    return n / MIB


def _finding_for_group(g: Group) -> Finding:
    where = g.where
    line = g.biggest_line
    mib = _mib(g.bytes)
    cat = categorize(where.tree, where.info.node if where and where.info else None, line) if where else \
        Category("data structure", "low", "")
    src = _source_line(where.text, line) if where else ""
    line_bytes, line_count = g.lines.get(line, [g.bytes, g.count])
    evidence = f"line {line}: `{src[:120]}`" if src else f"line {line}"
    evidence += f" holds {_mib(line_bytes):.1f} MiB in {line_count:,} allocation(s)"
    exec_run = g.test == "exec"  # `perfscan exec`: one run of a command, no test
    where_peak = "the command's run" if exec_run else f"{g.test} ({g.phase})"
    whose = "the run's" if exec_run else "the test's"
    evidence += f"; {g.count:,} allocation(s) in all, alive at the peak of {where_peak}"
    share = 100.0 * g.bytes / g.phase_peak if g.phase_peak else 0.0
    impact = f"up to {mib:.1f} MiB less peak memory" + (f" ({min(share, 100.0):.0f}% of {whose} peak)" if share else "")
    top_lines = sorted(g.lines.items(), key=lambda kv: kv[1][0], reverse=True)[:5]
    return Finding(
        domain="memory", symbol=g.symbol, qualname=f"{g.module}:{g.qualname}", module=g.module, file=g.rel, line=line,
        metric=Metric(round(mib, 1), "MiB", f"{mib:.1f} MiB alive at the peak"), pattern=catalog.LARGE_ALLOCATION.id,
        evidence=evidence, estimated_impact=impact, phase=g.phase,
        details={"category": cat.category, "reducibility": cat.reducibility, "reason": cat.reason, "count": g.count,
                 "test": g.test, "def_line": g.def_line, "test_peak_mib": round(_mib(g.phase_peak), 1),
                 "lines": [{"line": ln, "mib": round(_mib(b), 2), "count": c} for ln, (b, c) in top_lines]},
    )


# -- module-level values: import-time tables and per-request growth

def definition_line(tree: ast.Module, name: str) -> Optional[int]:
    """Line of the module-level assignment of `name` (or `Class.attr` in a class body)."""
    parts = name.split(".")
    body: Sequence[ast.stmt] = tree.body
    if len(parts) == 2:
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name == parts[0]:
                body = node.body
                break
        else:
            return None
    target = parts[-1]
    found: Optional[int] = None
    for node in body:
        names: List[str] = []
        if isinstance(node, ast.Assign):
            for t in node.targets:
                names += [n.id for n in ast.walk(t) if isinstance(n, ast.Name)]
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.If, ast.Try)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Assign):
                    for t in sub.targets:
                        if isinstance(t, ast.Name) and t.id == target and found is None:
                            found = sub.lineno
        if target in names:
            return node.lineno
    return found


def _value_where(locator: _Locator, root: Path, rel: str) -> Optional[Tuple[str, str, ast.Module, str]]:
    found = locator.file(str(root / rel))
    if found is None:
        return None
    rel2, mod, _funcs, tree, text = found
    return rel2, mod, tree, text


def _module_value(rec: Mapping[str, Any], locator: _Locator, root: Path) -> Optional[Tuple[str, str, str, Any, Optional[int], str]]:
    """A module-level value the probe measured: (name, file, module, tree, definition line, its source)."""
    name = str(rec.get("name", ""))
    where = _value_where(locator, root, str(rec.get("file") or ""))
    if where is None:
        return None
    rel, mod, tree, text = where
    line = definition_line(tree, name)
    return name, rel, mod, tree, line, _source_line(text, line) if line else ""


def growth_findings(growth: Sequence[Mapping[str, Any]], locator: _Locator, root: Path) -> List[Finding]:
    out = []
    for rec in growth:
        sizes = [int(s) for s in rec.get("sizes") or []]
        if len(sizes) < 2:
            continue
        grown = sizes[-1] - sizes[0]
        if grown < GROWTH_MIB * MIB or any(b <= a for a, b in zip(sizes, sizes[1:])):
            continue
        site = _module_value(rec, locator, root)
        if site is None:
            continue
        name, rel, mod, tree, line, src = site
        reps = len(sizes) - 1
        per = _mib(grown) / reps
        series = " → ".join(f"{_mib(s):.1f}" for s in sizes)
        evidence = (f"module-level {rec.get('type', 'value')} `{mod}.{name}`"
                    + (f" (line {line}: `{src[:80]}`)" if src else "")
                    + f" held {series} MiB across {reps} repetitions of the target tests, growing on every one")
        if rec.get("truncated"):
            evidence += " (sizes are lower bounds: the walk was capped)"
        out.append(Finding(
            domain="memory", symbol=name.split(".")[-1], qualname=f"{mod}:{name}", module=mod, file=rel, line=line,
            metric=Metric(round(_mib(grown), 1), "MiB", f"{_mib(grown):.1f} MiB more after {reps} repetitions"),
            pattern=catalog.PER_REQUEST_GROWTH.id, evidence=evidence,
            estimated_impact=f"about {per:.1f} MiB kept per run of the tests, without bound in a long-running process",
            phase="call",
            details={"category": "data structure", "reducibility": "high",
                     "reason": "module-level container that every request adds to and nothing empties: bound it (deque(maxlen), an LRU) or keep it outside the process",
                     "sizes_mib": [round(_mib(s), 2) for s in sizes], "per_repetition_mib": round(per, 2),
                     "type": rec.get("type")},
        ))
    return out


def import_findings(values: Sequence[Mapping[str, Any]], locator: _Locator, root: Path,
                    floor_mib: float = 1.0) -> List[Finding]:
    out = []
    for rec in values:
        size = int(rec.get("bytes") or 0)
        if size < floor_mib * MIB:
            continue
        site = _module_value(rec, locator, root)
        if site is None:
            continue
        name, rel, mod, tree, line, src = site
        mib = _mib(size)
        at_least = "at least " if rec.get("truncated") else ""
        cat = _import_category(tree, line)
        out.append(Finding(
            domain="memory", symbol=name.split(".")[-1], qualname=f"{mod}:{name}", module=mod, file=rel, line=line,
            metric=Metric(round(mib, 1), "MiB", f"{at_least}{mib:.1f} MiB held from import"),
            pattern=catalog.LARGE_ALLOCATION.id,
            evidence=(f"module-level {rec.get('type', 'value')} `{mod}.{name}`" + (f" (line {line}: `{src[:80]}`)" if src else "")
                      + f" holds {at_least}{mib:.1f} MiB before the first test runs: made at import, alive in every test"),
            estimated_impact=f"up to {mib:.1f} MiB less resident memory in every process that imports {mod}",
            phase="import",
            details={"category": cat.category, "reducibility": cat.reducibility, "reason": cat.reason,
                     "type": rec.get("type"), "truncated": bool(rec.get("truncated"))},
        ))
    return out


def _import_category(tree: ast.Module, line: Optional[int]) -> Category:
    if line is not None:
        cat = categorize(tree, None, line)
        if cat.category in ("array", "parsed data", "buffer"):
            return cat
    return Category("cache", "medium", "table built at import and kept for the process: build it lazily, or load a precomputed one")


# -- memray (when the project's interpreter has it)

# Runs in the project's interpreter: reads memray's capture at the run's high-water mark.
MEMRAY_READER = """
import json, sys
from memray import FileReader
reader = FileReader(sys.argv[1])
meta = reader.metadata
rows = []
for rec in reader.get_high_watermark_allocation_records(merge_threads=True):
    try:
        stack = rec.hybrid_stack_trace(max_stacks=40) if meta.has_native_traces else rec.stack_trace(max_stacks=40)
    except Exception:
        stack = rec.stack_trace(max_stacks=40)
    rows.append([rec.size, rec.n_allocations, [[f[1], f[2], f[0]] for f in stack]])
rows.sort(key=lambda r: r[0], reverse=True)
out = {"peak": meta.peak_memory, "allocations": meta.total_allocations, "native": bool(meta.has_native_traces),
       "records": rows[:2000]}
with open(sys.argv[2], "w") as fh:
    json.dump(out, fh)
"""


def _run_memray(ctx: PassContext, pytest_args: Sequence[str], timeout: float) -> Tuple[Optional[Dict[str, Any]], str]:
    """memray --native over the same tests; its high-water mark, read back in the project's interpreter."""
    out_dir = ctx.workdir / "runs" / "memray"
    out_dir.mkdir(parents=True, exist_ok=True)
    capture = out_dir / "capture.bin"
    result = out_dir / "memray.json"
    env = child_env(ctx.workdir, ctx.probe_path)
    # the probe in its plain `time` mode: the same pytest set-up as the other runs (no cache folder,
    # workers and coverage off, benchmark storage in the temp folder)
    argv = list(ctx.project.runner) + ["-m", "memray", "run", "--native", "--aggregate", "-q", "-f", "-o", str(capture),
                                       "-m", "perfscan_probe", "time", "--out", str(out_dir), "--"] + list(pytest_args)
    t0 = time.monotonic()
    run = children.run(argv, cwd=ctx.project.root, env=env, timeout=timeout * 0.8, log_dir=out_dir, name="memray-run")
    if not capture.is_file():
        return None, f"memray: the run {run.describe_exit()} and wrote no capture; figures are tracemalloc's"
    left = max(5.0, timeout - (time.monotonic() - t0))
    read = children.run(list(ctx.project.runner) + ["-c", MEMRAY_READER, str(capture), str(result)], cwd=out_dir, env=env,
                        timeout=left, log_dir=out_dir, name="memray-read")
    try:
        data = json.loads(result.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        tail = read.tail(3)
        return None, f"memray: its capture could not be read ({read.describe_exit()}{': ' + tail if tail else ''}); figures are tracemalloc's"
    data["seconds"] = round(time.monotonic() - t0, 2)
    data["timed_out"] = run.timed_out
    return data, ""


def memray_summary(data: Mapping[str, Any], locator: _Locator, limit: int = 10) -> Dict[str, Any]:
    """memray's high-water mark per project function (innermost project frame of each stack)."""
    groups: Dict[Tuple[str, str], List[Any]] = {}
    unattributed = 0
    for rec in data.get("records") or []:
        try:
            size, frames = int(rec[0]), rec[2]
        except (TypeError, ValueError, IndexError):
            continue
        where = None
        for frame in frames:
            filename, line = str(frame[0]), frame[1]
            if filename.endswith(".py") and isinstance(line, int):
                where = locator.locate(filename, line)
                if where is not None:
                    break
        if where is None:
            unattributed += size
            continue
        qual = where.info.qualname if where.info else "<module>"
        cur = groups.setdefault((where.rel, qual), [f"{where.module}:{qual}", where.rel, int(frame[1]), 0])
        cur[3] += size
    top = sorted(groups.values(), key=lambda g: g[3], reverse=True)[:limit]
    return {"peak_mib": round(_mib(int(data.get("peak") or 0)), 1), "native": bool(data.get("native")),
            "seconds": data.get("seconds"), "unattributed_mib": round(_mib(unattributed), 1),
            "top": [{"function": f, "file": rel, "line": line, "mib": round(_mib(b), 1)} for f, rel, line, b in top if b >= MIB // 10]}


# -- the pass

def _probe_options(ctx: PassContext) -> Dict[str, str]:
    return {"root": str(ctx.project.root), "exclude": json.dumps(list(ctx.settings.exclude)), "frames": "1",
            "min_mib": str(ctx.settings.thresholds.floor("memory"))}


def _deep_args(ctx: PassContext, phases: Sequence[Mapping[str, Any]],
               candidates: Sequence[Mapping[str, Any]]) -> List[str]:
    """The deep run's pytest arguments: only the tests of the candidate phases, in the order they
    ran (the other tests of a suite of thousands cost minutes and are not traced anyway)."""
    if ctx.target.exec_command:
        return []
    wanted = {str(p.get("test")) for p in candidates}
    ordered = list(dict.fromkeys(str(p.get("test")) for p in phases if str(p.get("test")) in wanted))
    return list(pytest_options_only(tuple(ctx.target.pytest_args))) + ordered


def _deep_candidates(phases: Sequence[Mapping[str, Any]], floor_mib: float) -> List[Mapping[str, Any]]:
    picked = [p for p in phases if int(p.get("libs") or 0) >= floor_mib * MIB]
    picked.sort(key=lambda p: int(p.get("libs") or 0), reverse=True)
    return picked[:DEEP_MAX_PHASES]


def _merge_deep(phases: List[Dict[str, Any]], deep: Mapping[str, Any]) -> int:
    """Add the deep run's attributions to the first run's phases; returns the bytes attributed."""
    by_key = {(p.get("test"), p.get("phase")): p for p in phases}
    moved = 0
    for dp in deep.get("phases") or []:
        target = by_key.get((dp.get("test"), dp.get("phase")))
        rows = dp.get("lines") or []
        if target is None or not rows:
            continue
        attributed = sum(int(r[2]) for r in rows)
        # never move more than the first run saw in libraries at that peak
        room = int(target.get("libs") or 0)
        if attributed > room > 0:
            scale = room / attributed
            rows = [[r[0], r[1], int(int(r[2]) * scale), r[3]] for r in rows]
            attributed = room
        target["lines"] = list(target.get("lines") or []) + [list(r) for r in rows]
        target["libs"] = max(0, room - attributed)
        moved += attributed
    return moved


def run_memory_pass(ctx: PassContext) -> PassResult:
    start = time.monotonic()
    deadline = start + ctx.timeout
    root = Path(ctx.project.root)
    server = ctx.deployment.model == "long-running-server"
    options = _probe_options(ctx)
    # servers always; any project when the user asks (a `memory_repeat` setting, where the settings carry one)
    repeat = 2 if server else int(ctx.settings.memory_repeat or 0)
    if ctx.target.exec_command:
        repeat = 0  # a command runs once; repetitions are for tests
    if repeat:
        options["repeat"] = str(repeat)
    pytest_args = list(ctx.target.pytest_argv())
    run = run_probe("memory", runner=ctx.project.runner, root=root, workdir=ctx.workdir, probe_path=ctx.probe_path,
                    pytest_args=pytest_args, timeout=ctx.timeout, options=options, name="memory",
                    exec_command=ctx.target.exec_command, source_roots=ctx.project.source_roots)
    data = run.read("memory.json")
    failure = run.failure_note(bool(ctx.target.exec_command), "measured", "the memory used until then is still counted")
    notes: List[str] = [failure] if failure else []
    if data is None:
        status = "timed-out" if run.child.timed_out else "failed"
        tail = run.child.tail(6)
        error = f"the measured test run {run.child.describe_exit()} and wrote no memory data" + (f": {tail}" if tail else "")
        return PassResult("memory", status, time.monotonic() - start, error, notes=tuple(notes),
                          data={"tool": "tracemalloc"})

    phases: List[Dict[str, Any]] = [dict(p) for p in data.get("phases") or [] if isinstance(p, dict)]
    for err in data.get("errors") or []:
        notes.append(f"probe: {err}")
    status, error = "ok", ""
    if run.child.timed_out:
        status = "timed-out"
        error = f"the measured test run timed out after {run.child.seconds:.0f} s; the figures cover the tests that ran"
    elif run.child.returncode not in (0, 1) and not failure and not phases:
        status, error = "failed", f"the measured test run {run.child.describe_exit()}"

    # the deep run: 25 frames, only where libraries hold a megabyte at a peak
    deep_info: Dict[str, Any] = {}
    candidates = _deep_candidates(phases, ctx.settings.thresholds.floor("memory")) if status == "ok" else []
    if candidates:
        left = deadline - time.monotonic()
        if left < DEEP_MIN_SECONDS:
            notes.append(f"{len(candidates)} test peak(s) hold 1 MiB or more in library frames; no time left to attribute them")
        else:
            spec = ctx.workdir / "runs" / "memory-deep-phases.json"
            spec.parent.mkdir(parents=True, exist_ok=True)
            # the target is the level of the kept snapshot: the deep run's hook checks at the same returns
            spec.write_text(json.dumps({"phases": [[p["test"], p["phase"], max(0, int(p.get("snapshot") or 0) - int(p.get("start") or 0))]
                                                   for p in candidates]}), encoding="utf-8")
            deep_opts = _probe_options(ctx)
            deep_opts.update({"frames": str(DEEP_FRAMES), "deep": str(spec)})
            # 25 frames under the peak hook cost 15-40x a heavy test's time (Markdown's 7 phases: 134 s
            # after a 40 s measured run): a refinement may take as long as the measured run, not the pass
            left = min(left, max(DEEP_CAP_MIN_SECONDS, run.child.seconds))
            deep_run = run_probe("memory", runner=ctx.project.runner, root=root, workdir=ctx.workdir,
                                 probe_path=ctx.probe_path, pytest_args=_deep_args(ctx, phases, candidates),
                                 timeout=left, options=deep_opts,
                                 name="memory-deep", exec_command=ctx.target.exec_command,
                                 source_roots=ctx.project.source_roots)
            deep = deep_run.read("memory.json")
            if deep is None:
                notes.append(f"the {DEEP_FRAMES}-frame run for library allocations {deep_run.child.describe_exit()}; "
                             "those bytes stay unattributed")
            else:
                moved = _merge_deep(phases, deep)
                deep_info = {"phases": len(candidates), "attributed_mib": round(_mib(moved), 1),
                             "seconds": round(deep_run.child.seconds, 2), "overhead": deep.get("overhead"),
                             "stopped": deep_run.child.timed_out}
                notes.append(f"a {DEEP_FRAMES}-frame run of {len(candidates)} test phase(s) attributed "
                             f"{_mib(moved):.1f} MiB allocated inside libraries to the project functions that called them"
                             + (f" (stopped at its cap of {left:.0f} s, as long as the measured run: the phases it did "
                                "not reach stay unattributed)" if deep_run.child.timed_out else ""))

    locator = _Locator(root, ctx.project.source_roots, ctx.settings.exclude)
    groups = merge_peaks(phases, locator)
    floor_mib = ctx.settings.thresholds.floor("memory")
    findings: List[Finding] = [_finding_for_group(g) for g in groups.values() if g.bytes >= floor_mib * MIB]
    findings += import_findings(data.get("import") or [], locator, root, floor_mib)
    findings += growth_findings(data.get("growth") or [], locator, root)
    findings.sort(key=lambda f: f.metric.value, reverse=True)

    unattributed = max((int(p.get("tests") or 0) + int(p.get("libs") or 0) for p in phases if p.get("snapshots")), default=0)
    if unattributed:
        worst = max((p for p in phases if p.get("snapshots")), key=lambda p: int(p.get("tests") or 0) + int(p.get("libs") or 0))
        libs = int(worst.get("libs") or 0)
        notes.append(f"allocations with no project frame (made by test code or by libraries called from tests) are not findings: "
                     f"up to {_mib(unattributed):.1f} MiB at one test's peak ({worst.get('test')}: "
                     f"{_mib(int(worst.get('tests') or 0)):.1f} MiB by test code, {_mib(libs):.1f} MiB in libraries)")
    repeat_info = data.get("repeat") or {}
    if repeat:
        done = int(repeat_info.get("done") or 0)
        if done < repeat:
            notes.append(f"per-request growth: only {done} of {repeat} repetitions of the tests ran" + (" (timed out)" if run.child.timed_out else ""))
        else:
            notes.append(f"per-request growth: the target tests ran {repeat} more times in the same process ({float(repeat_info.get('seconds') or 0):.1f} s); "
                         "module-level containers of the project were measured before and after each")
        if repeat_info.get("failures"):
            notes.append(f"{repeat_info.get('failures')} test run(s) failed during the repetitions")
    for note in locator.notes[:5]:
        notes.append(f"skipped source: {note}")
    caught = [p for p in phases if p.get("snapshots") and int(p.get("peak") or 0) - int(p.get("start") or 0) >= MIB]
    missed = [p for p in caught if int(p.get("snapshot") or 0) < 0.9 * int(p.get("peak") or 0)
              and int(p.get("peak") or 0) - int(p.get("snapshot") or 0) >= MIB]
    if missed:
        notes.append(f"{len(missed)} test phase(s) peaked between two checked returns: the snapshot holds less than 90% of "
                     "the peak (" + ", ".join(f"{p.get('test')} ({p.get('phase')}): {_mib(int(p.get('snapshot') or 0)):.1f} of "
                                            f"{_mib(int(p.get('peak') or 0)):.1f} MiB" for p in missed[:3]) + ")")
    skipped_notes = sorted({str(p.get("note")) for p in phases if p.get("note")})
    for note in skipped_notes[:3]:
        notes.append(f"snapshot: {note}")
    tool = "tracemalloc"
    memray_data: Optional[Dict[str, Any]] = None
    if ctx.project.has_memray:
        left = deadline - time.monotonic()
        if left < DEEP_MIN_SECONDS:
            notes.append("memray: importable in the project's environment, but no time was left to run it; figures are tracemalloc's")
        else:
            raw, problem = _run_memray(ctx, pytest_args, left)
            if raw is None:
                notes.append(problem)
            else:
                memray_data = memray_summary(raw, locator)
                tool = "tracemalloc + memray"
                held = ", ".join(f"{r['function']} {r['mib']:.1f} MiB" for r in memray_data["top"][:5])
                notes.append(f"memray{' --native' if memray_data['native'] else ''} measured the whole run's heap, Python and native "
                             f"allocations alike: peak {memray_data['peak_mib']:.1f} MiB"
                             + (f"; at that moment project code held {held}" if held else "")
                             + f"; {memray_data['unattributed_mib']:.1f} MiB had no project frame. "
                             "tracemalloc measured the per-test peaks, the findings and the growth")
    else:
        notes.append("memray: not available in the project's environment; all figures are tracemalloc's (Python allocations only)")
    overhead = dict(data.get("overhead") or {})
    overhead.update({"frames": data.get("frames"), "hook": data.get("hook"), "run_seconds": round(run.child.seconds, 2)})
    if deep_info:
        overhead["deep_run"] = deep_info
    section = {
        "tool": tool,
        "python": data.get("python"),
        "top": _top_table(groups),
        "peak_mib_by_test": _peaks_by_test(phases),
        "unattributed_mib": round(_mib(unattributed), 1),
        "growth": [{"name": f"{r.get('module')}.{r.get('name')}", "file": r.get("file"),
                    "sizes_mib": [round(_mib(int(s)), 2) for s in r.get("sizes") or []]} for r in (data.get("growth") or [])[:10]],
        "overhead": overhead,
    }
    if memray_data is not None:
        section["memray"] = memray_data
    return PassResult("memory", status, time.monotonic() - start, error, tuple(findings), (), tuple(notes), section)


def _top_table(groups: Mapping[Tuple[str, str], Group], limit: int = 15) -> List[Dict[str, Any]]:
    rows = sorted((g for g in groups.values() if g.bytes >= MIB // 10), key=lambda g: g.bytes, reverse=True)[:limit]
    out = []
    for g in rows:
        line = g.biggest_line
        where = g.where
        cat = categorize(where.tree, where.info.node if where and where.info else None, line) if where else \
            Category("data structure", "low", "")
        out.append({"function": f"{g.module}:{g.qualname}", "file": g.rel, "line": line, "mib": round(_mib(g.bytes), 1),
                    "count": g.count, "category": cat.category, "reducibility": cat.reducibility, "test": g.test,
                    "phase": g.phase})
    return out


def _peaks_by_test(phases: Sequence[Mapping[str, Any]]) -> Dict[str, float]:
    out: Dict[str, float] = {}
    for p in phases:
        test = str(p.get("test", ""))
        peak = _mib(int(p.get("peak") or 0))
        if peak > out.get(test, -1.0):
            out[test] = round(peak, 1)
    return out
