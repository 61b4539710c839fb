"""`.codeflash/scan-report.html`: the whole scan on one self-contained page.

Everything is inline (no network, no CDN): the header, the ranked findings table (sortable,
filterable, each row expanding to its evidence), a CPU icicle chart built from the profile's
caller data (`cpu.pstats`), an import waterfall (`imports.json`) and the memory pass's top
allocations. The page is rendered here, in Python, with every project-provided string escaped;
the small script in `html_assets.JS` only adds sorting, filtering, zoom and highlighting, and
draws the icicle chart from the JSON embedded in the page.

Reports only format: this module reads the artifacts the passes wrote, it runs nothing.
"""
from __future__ import annotations

import ast
import json
import marshal
import os
import re
import tokenize
from collections import defaultdict
from html import escape
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from perfscan.models import DOMAIN_TITLES, DOMAINS, SEVERITIES, ScanResult
from perfscan.report.describe import PATTERN_WORDS, target_name
from perfscan.safetext import clean_data
from perfscan.report.html_assets import CSS, JS
from perfscan.report.json_report import to_dict
from perfscan.sources import functions_in, is_project_path, is_test_file, module_name

# Icicle chart: frames below this share of the chart are pruned, the tree stops at this depth,
# and it holds at most this many frames (a page that opens fast whatever the profile).
FLAME_MIN_SHARE = 0.005
FLAME_MAX_DEPTH = 40
FLAME_MAX_NODES = 2500
# Import waterfall: modules below this share of the slowest import (or this many ms) are left out.
WATERFALL_MIN_SHARE = 0.01
WATERFALL_MIN_MS = 1.0
WATERFALL_MAX_ROWS = 60
MEMORY_MAX_ROWS = 20
MAX_TESTS_IN_DATA = 200
_MAX_PARSE_BYTES = 1_000_000  # bigger files keep cProfile's bare function names

# Frames of the test harness: their callees are the roots of the chart.
_HARNESS = ("/_pytest/", "/pluggy/", "/perfscan_probe/", "/perfscan/probe/", "/pytest/__main__.py")
_PYDIR = re.compile(r"^python\d+(\.\d+)?t?$")

Key = Tuple[str, int, str]


def e(value: Any) -> str:
    """Escape any project-provided value for HTML text or a quoted attribute."""
    return escape("" if value is None else str(value), quote=True)


def _json_for_script(data: Any) -> str:
    """JSON safe inside <script>: no `</script>`, `<!--` or `&` can survive."""
    text = json.dumps(clean_data(data), ensure_ascii=False, separators=(",", ":"), default=str)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


# ---------------------------------------------------------------------------------------------
# where the artifacts are


def out_dir_of(result: ScanResult) -> Path:
    for p in result.passes.values():
        for a in p.artifacts:
            return Path(a.path).parent
    if result.settings.out:
        return Path(result.settings.out)
    return Path(result.settings.path or result.project.root) / ".codeflash"  # as scan.output_dir does


def _artifact(result: ScanResult, domain: str, name: str) -> Path:
    p = result.passes.get(domain)
    for a in (p.artifacts if p else ()):
        if Path(a.path).name == name:
            return Path(a.path)
    return out_dir_of(result) / name


# ---------------------------------------------------------------------------------------------
# CPU: an icicle chart from cProfile's caller edges


class _Frames:
    """Names a profiled (file, line, name) as `module:Qual.name` and says what kind of code it is."""

    def __init__(self, root: Path, source_roots: Sequence[Path], exclude: Sequence[str]):
        self.root = Path(os.path.realpath(root))
        self.source_roots = [Path(os.path.realpath(p)) for p in source_roots] or [self.root]
        self.exclude = tuple(exclude)
        self._funcs: Dict[str, List[Tuple[str, str, int, int, int]]] = {}
        self._cache: Dict[Key, Tuple[str, str, str, str]] = {}
        self._kinds: Dict[str, Tuple[str, str, str, Optional[Path]]] = {}

    def info(self, key: Key) -> Tuple[str, str, str, str]:
        """(qualname, short name, kind, where); kind: project, test, library, stdlib, builtin, harness."""
        found = self._cache.get(key)
        if found is None:
            file, line, name = key
            kind, mod, rel, real = self.classify(key)
            if kind == "builtin":
                short = _builtin_name(name)
                found = (short, short, kind, "")
            elif real is None:
                found = (f"{mod}:{name}", name, kind, "")
            else:
                found = self._named(real, mod, line, name, kind, rel)
            self._cache[key] = found
        return found

    def kind(self, key: Key) -> str:
        return self.classify(key)[0]

    def classify(self, key: Key) -> Tuple[str, str, str, Optional[Path]]:
        """(kind, module, where to show, file to read for qualified names), from the file alone."""
        file = key[0]
        found = self._kinds.get(file)
        if found is None:
            found = self._kinds[file] = self._classify(file)
        return found

    def _classify(self, file: str) -> Tuple[str, str, str, Optional[Path]]:
        if file == "~" or not file:
            return "builtin", "", "", None
        if file.startswith("<"):
            return "stdlib", file.strip("<>").replace("frozen ", ""), "", None
        posix = file.replace("\\", "/")
        if any(h in posix for h in _HARNESS):
            return "harness", _module_from_path(posix)[0], "", None
        real_str = os.path.realpath(file if os.path.isabs(file) else os.path.join(str(self.root), file))
        real = Path(real_str)
        prefix = str(self.root).rstrip(os.sep) + os.sep
        if real_str.startswith(prefix):
            rel = real_str[len(prefix):].replace(os.sep, "/")
            parts = rel.split("/")
            if is_project_path(rel, self.exclude):
                return "project", module_name(real, self.source_roots) or rel[:-3].replace("/", "."), rel, real
            if not any(p in ("site-packages", "dist-packages") for p in parts):
                mod = rel[:-3].replace("/", ".") if rel.endswith(".py") else rel
                testy = is_test_file(parts[-1]) or any(p in ("tests", "test", "testing") for p in parts[:-1])
                return ("test" if testy else "library"), mod, rel, real
        mod, kind = _module_from_path(posix)
        return kind, mod, posix.rsplit("/", 1)[-1], real

    def _named(self, path: Path, mod: str, line: int, name: str, kind: str, rel: str) -> Tuple[str, str, str, str]:
        """Qualify `name` with its class (`Counter.update`); fold comprehensions and lambdas into their def."""
        funcs = self._functions(path)
        fn = None
        if name.startswith("<"):
            holders = [f for f in funcs if f[2] <= line <= f[4]]
            fn = max(holders, key=lambda f: f[2]) if holders else None
            if fn is None:
                return f"{mod}:<module>", "<module>", kind, f"{rel}:{line}" if rel else ""
        else:
            exact = [f for f in funcs if f[1] == name and line in (f[2], f[3])]
            fn = (exact or [f for f in funcs if f[1] == name and f[2] <= line <= f[4]] or [None])[0]
        qual, def_line = (fn[0], fn[3]) if fn else (name, line)
        return f"{mod}:{qual}", qual, kind, f"{rel}:{def_line}" if rel else ""

    def _functions(self, path: Path) -> List[Tuple[str, str, int, int, int]]:
        """(qualname, name, first line, def line, end line) of every def in a file; empty if unreadable."""
        key = str(path)
        if key not in self._funcs:
            funcs: List[Tuple[str, str, int, int, int]] = []
            try:
                if path.suffix == ".py" and path.stat().st_size <= _MAX_PARSE_BYTES:
                    with tokenize.open(str(path)) as fh:
                        tree = ast.parse(fh.read())
                    funcs = [(f.qualname, f.name, f.first_line, f.lineno, f.end_lineno) for f in functions_in(tree)]
            except (OSError, SyntaxError, ValueError, UnicodeDecodeError, LookupError, RecursionError, MemoryError):
                funcs = []
            self._funcs[key] = funcs
        return self._funcs[key]


def _builtin_name(name: str) -> str:
    m = re.match(r"<built-in (?:method|function) (.+)>$", name)
    if m:
        return m.group(1)
    m = re.match(r"<method '(.+)' of '(.+)' objects>$", name)
    if m:
        return f"{m.group(2)}.{m.group(1)}"
    return name


def _module_from_path(posix: str) -> Tuple[str, str]:
    """Dotted module and kind (library or stdlib) of a file outside the project."""
    parts = [p for p in posix.split("/") if p]
    kind, start = "library", max(len(parts) - 1, 0)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] in ("site-packages", "dist-packages"):
            kind, start = "library", i + 1
            break
    else:
        for i in range(len(parts) - 1, -1, -1):
            if _PYDIR.match(parts[i]):
                kind, start = "stdlib", i + 1
                break
    mod_parts = parts[start:] or parts[-1:]
    if mod_parts and mod_parts[-1].endswith(".py"):
        mod_parts[-1] = mod_parts[-1][:-3]
    if len(mod_parts) > 1 and mod_parts[-1] == "__init__":
        mod_parts.pop()
    return ".".join(mod_parts) or posix, kind


def _load_pstats(path: Path) -> Optional[Dict[Key, tuple]]:
    try:
        with open(path, "rb") as fh:
            raw = marshal.load(fh)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(raw, dict):
        return None
    stats: Dict[Key, tuple] = {}
    for key, value in raw.items():
        try:
            (file, line, name), (cc, nc, tt, ct, callers) = key, value
            stats[(str(file), int(line), str(name))] = (int(cc), int(nc), float(tt), float(ct),
                                                        {(str(k[0]), int(k[1]), str(k[2])): (float(v[3]))
                                                         for k, v in dict(callers).items()})
        except (TypeError, ValueError, IndexError):
            continue
    return stats


class _CallTree:
    """An approximate call tree from cProfile's caller edges.

    cProfile keeps, per function, its callers and the cumulative time spent in it from each
    caller, not whole stacks. The tree starts from the roots (functions with no profiled caller,
    or called only by the test harness: pytest, pluggy, the probe), and a node's time is shared
    among its callees in proportion to the caller edges' cumulative time. Comprehensions and
    lambdas fold into the function that defines them; recursion stops at the first repeat.
    """

    def __init__(self, stats: Dict[Key, tuple], frames: _Frames):
        self.stats = stats
        self.frames = frames
        self.ct = {k: v[3] for k, v in stats.items()}
        self.callees: Dict[Key, Dict[Key, float]] = defaultdict(dict)
        for callee, v in stats.items():
            for caller, edge_ct in v[4].items():
                if caller in stats and caller != callee:
                    self.callees[caller][callee] = self.callees[caller].get(callee, 0.0) + edge_ct
        self.harness = self._harness()
        self.nodes = 0
        self.min_time = 0.0

    def _harness(self) -> FrozenSet[Key]:
        kind = {k: self.frames.kind(k) for k in self.stats}
        harness = {k for k, kd in kind.items() if kd == "harness"}
        changed = True
        while changed:  # library code only the harness calls is the harness's too
            changed = False
            for k, v in self.stats.items():
                if k in harness or kind[k] in ("project", "test"):
                    continue
                callers = set(v[4]) - {k}
                if callers and callers <= harness:
                    harness.add(k)
                    changed = True
        return frozenset(harness)

    def build(self) -> Optional[Dict[str, Any]]:
        roots: Dict[str, Dict[Key, float]] = defaultdict(dict)
        for k, v in self.stats.items():
            if k in self.harness:
                continue
            callers = {c: t for c, t in v[4].items() if c != k and c in self.stats}
            weight = v[3] if not callers else sum(t for c, t in callers.items() if c in self.harness)
            if weight > 0:
                roots[self.frames.info(k)[0]][k] = weight
        total = sum(sum(parts.values()) for parts in roots.values())
        if total <= 0:
            return None
        self.min_time = total * FLAME_MIN_SHARE
        children = []
        for label, parts in sorted(roots.items(), key=lambda kv: -sum(kv[1].values())):
            if sum(parts.values()) >= self.min_time and self.nodes < FLAME_MAX_NODES:
                children.append(self._expand(label, parts, 1, frozenset([label])))
        return {"n": "all profiled code", "q": "", "k": "root", "t": _round(total), "f": "", "c": children}

    def _expand(self, label: str, parts: Dict[Key, float], depth: int, path: FrozenSet[str]) -> Dict[str, Any]:
        self.nodes += 1
        total = sum(parts.values())
        first = max(parts, key=lambda k: parts[k])
        qual, short, kind, where = self.frames.info(first)
        node: Dict[str, Any] = {"n": short, "q": qual, "k": "library" if kind == "harness" else kind,
                                "t": _round(total), "f": where, "c": []}
        if depth >= FLAME_MAX_DEPTH:
            return node
        child_parts: Dict[str, Dict[Key, float]] = defaultdict(lambda: defaultdict(float))
        work = list(parts.items())
        seen = set(parts)
        while work:
            key, t = work.pop()
            ct = self.ct.get(key, 0.0)
            if ct <= 0 or t <= 0:
                continue
            scale = t / ct
            for callee, edge in self.callees.get(key, {}).items():
                share = edge * scale
                lab = self.frames.info(callee)[0]
                if lab == label:  # a comprehension of this function: its callees are ours
                    if callee not in seen:
                        seen.add(callee)
                        work.append((callee, share))
                    continue
                if lab in path:  # recursion: the outer frame already holds it
                    continue
                child_parts[lab][callee] += share
        child_total = sum(sum(p.values()) for p in child_parts.values())
        factor = min(1.0, total / child_total) if child_total > 0 else 1.0
        ordered = sorted(child_parts.items(), key=lambda kv: -sum(kv[1].values()))
        for lab, p in ordered:
            if sum(p.values()) * factor < self.min_time or self.nodes >= FLAME_MAX_NODES:
                continue
            node["c"].append(self._expand(lab, {k: v * factor for k, v in p.items()}, depth + 1, path | {lab}))
        return node


def _round(seconds: float) -> float:
    return float(f"{seconds:.4g}")


def flame_tree(result: ScanResult) -> Optional[Dict[str, Any]]:
    """The icicle chart's tree, or None when there is no profile to draw."""
    cpu = result.passes.get("cpu")
    if cpu is None or cpu.status not in ("ok", "timed-out"):
        return None
    stats = _load_pstats(_artifact(result, "cpu", "cpu.pstats"))
    if not stats:
        return None
    project = result.project
    frames = _Frames(project.root, list(project.source_roots), result.settings.exclude)
    return _CallTree(stats, frames).build()


# ---------------------------------------------------------------------------------------------
# Import: a waterfall of the slow part of the import tree


def waterfall_rows(result: ScanResult) -> Tuple[List[Dict[str, Any]], float, str]:
    """(rows, scale in ms, how they were made); rows carry name, kind, depth, start/cumulative/self ms."""
    imp = result.passes.get("import")
    if imp is None:
        return [], 0.0, ""
    doc = None
    try:
        with open(_artifact(result, "import", "imports.json"), encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        doc = None
    trees = []
    if isinstance(doc, dict) and isinstance(doc.get("imports"), list):
        unit = 1000.0 if doc.get("unit", "us") == "us" else 1.0
        for t in doc["imports"]:
            if isinstance(t, dict) and isinstance(t.get("tree"), dict):
                trees.append((str(t.get("module", "")), t["tree"]))
    if trees:
        def cum(n: Mapping[str, Any]) -> float:
            return float(n.get("cumulative_us", 0) or 0) / unit

        scale = max(cum(t) for _, t in trees)
        threshold = max(WATERFALL_MIN_MS, scale * WATERFALL_MIN_SHARE)
        candidates: List[Dict[str, Any]] = []
        order = 0
        for target, tree in sorted(trees, key=lambda mt: -cum(mt[1])):
            stack = [(tree, 0.0, 0)]
            while stack:
                node, start, depth = stack.pop()
                c = cum(node)
                if c < threshold or node.get("cached"):
                    continue
                candidates.append({"name": str(node.get("name", "")), "kind": str(node.get("kind", "")),
                                   "depth": depth, "start_ms": round(start, 2), "cumulative_ms": round(c, 2),
                                   "self_ms": round(float(node.get("self_us", 0) or 0) / unit, 2),
                                   "target": target, "order": order})
                order += 1
                kids = [k for k in node.get("children") or [] if isinstance(k, dict)]
                starts, at = [], start
                for k in kids:
                    starts.append(at)
                    at += cum(k)
                for k, s in reversed(list(zip(kids, starts))):
                    stack.append((k, s, depth + 1))
        if len(candidates) > WATERFALL_MAX_ROWS:
            keep = {id(r) for r in sorted(candidates, key=lambda r: -r["cumulative_ms"])[:WATERFALL_MAX_ROWS]}
            candidates = [r for r in candidates if id(r) in keep]
        return candidates, scale, "tree"
    rows = []
    for m in (imp.data or {}).get("modules") or []:
        if isinstance(m, dict) and m.get("name"):
            rows.append({"name": str(m["name"]), "kind": str(m.get("kind", "")), "depth": 0, "start_ms": 0.0,
                         "cumulative_ms": float(m.get("cumulative_ms") or 0), "self_ms": float(m.get("self_ms") or 0),
                         "target": "", "imported_by": str(m.get("imported_by") or "")})
    rows = rows[:WATERFALL_MAX_ROWS]
    return rows, max([r["cumulative_ms"] for r in rows] or [0.0]), "modules"


# ---------------------------------------------------------------------------------------------
# Memory: the top allocations


def memory_rows(result: ScanResult) -> List[Dict[str, Any]]:
    mem = result.passes.get("memory")
    if mem is None:
        return []
    rows = []
    for r in (mem.data or {}).get("top") or []:
        if not isinstance(r, dict):
            continue
        try:
            mib = float(r.get("mib") or 0)
        except (TypeError, ValueError):
            continue
        rows.append({"function": str(r.get("function") or ""), "file": r.get("file"), "line": r.get("line"),
                     "mib": mib, "count": r.get("count"), "category": r.get("category") or "",
                     "reducibility": r.get("reducibility") or ""})
    if not rows:  # no table from the pass: its findings are the top allocations
        for f in mem.findings:
            if f.metric.unit == "MiB":
                rows.append({"function": f.qualname, "file": f.file, "line": f.line, "mib": f.metric.value,
                             "count": f.details.get("count"), "category": f.details.get("category", ""),
                             "reducibility": f.details.get("reducibility", "")})
    rows.sort(key=lambda r: -r["mib"])
    return rows[:MEMORY_MAX_ROWS]


# ---------------------------------------------------------------------------------------------
# the page


def _fmt_seconds(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.1f} s"


def _fmt_ms(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else (f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms")


def _value_text(v: Any) -> str:
    if isinstance(v, float):
        text = f"{v:.4g}"
    elif isinstance(v, Mapping):
        text = ", ".join(f"{k} {_value_text(x)}" for k, x in v.items())
    elif isinstance(v, (list, tuple)):
        text = ", ".join(_value_text(x) for x in v)
    else:
        text = str(v)
    return text if len(text) <= 600 else text[:600] + "…"


_DETAIL_LABELS = {
    "def_line": ("Defined at line", ""), "own_pct": ("Own time", "%"), "cumulative_pct": ("Cumulative time", "%"),
    "calls": ("Calls", ""), "primitive_calls": ("Primitive calls", ""), "callers": ("Top callers", ""),
    "attributable_seconds": ("Attributable time", " s"), "phase_seconds": ("Attributable by phase (s)", ""),
}


def _detail(key: str, value: Any) -> Tuple[str, str]:
    """A finding's `details` entry as (label, text)."""
    label, unit = _DETAIL_LABELS.get(key, (key.replace("_", " ").capitalize(), ""))
    if isinstance(value, int) and not isinstance(value, bool) and key != "def_line":
        return label, f"{value:,}{unit}"
    return label, _value_text(value) + (unit if isinstance(value, (int, float)) and not isinstance(value, bool) else "")


def _header(result: ScanResult, report: Dict[str, Any]) -> str:
    project, dep, target = result.project, result.deployment, result.target
    tests = len(target.tests)
    n = f"{tests} test" + ("" if tests == 1 else "s")
    scanned = {"all": f"{n} (the whole suite)", "selected": f"{n}, selected", "user": f"{n} you chose",
               "exec": "a command run", "none": "no tests"}.get(target.mode, n)
    facts = [("Date", result.date), ("Python", project.python_version), ("Deployment", dep.model),
             ("Scanned", scanned), ("perfscan", result.tool_version)]
    out = ['<header class="top" id="top">',
           '<p class="brand"><span class="logo" aria-hidden="true"></span>perfscan · scan report</p>',
           f'<h1>{e(project.name)}</h1>',
           f'<p class="root" title="project root">{e(project.root)}</p>',
           '<dl class="facts">']
    for k, v in facts:
        out.append(f'<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>')
    out.append('</dl>')
    out.append('<div class="passes" role="list" aria-label="Passes">')
    for name, p in result.passes.items():
        title = DOMAIN_TITLES.get(name, name)
        detail = f' <span class="why">{e(p.error)}</span>' if p.error else ""
        out.append(f'<div class="pass st-{e(p.status)}" role="listitem"><span class="dot" aria-hidden="true"></span>'
                   f'<b>{e(title)}</b> {e(p.status)} · {e(_fmt_seconds(p.seconds))}{detail}</div>')
    out.append('</div>')
    ev = "".join(f"<li>{e(x)}</li>" for x in dep.evidence) or "<li>none found</li>"
    out.append(f'<details class="meta"><summary>Deployment evidence, target and notes</summary>'
               f'<h3>Deployment: {e(dep.model)}</h3><ul>{ev}</ul>')
    if dep.entry_modules:
        out.append(f'<p>Entry modules: {", ".join("<code>" + e(m) + "</code>" for m in dep.entry_modules)}</p>')
    if target.note:
        out.append(f'<h3>Target</h3><p>{e(target.note)}</p>')
    if target.neutralized:
        out.append('<p>Changed for profiling:</p><ul>' + "".join(f"<li>{e(x)}</li>" for x in target.neutralized) + '</ul>')
    if result.warnings:
        out.append('<h3>Warnings</h3><ul>' + "".join(f"<li>{e(w)}</li>" for w in result.warnings) + '</ul>')
    out.append('</details></header>')
    return "\n".join(out)


def _summary(result: ScanResult, report: Dict[str, Any]) -> str:
    by_sev = report["summary"]["by_severity"]
    counts = report["summary"]["counts"]
    cards = []
    for s in SEVERITIES:
        n = by_sev.get(s, 0)
        cards.append(f'<div class="card sev-{s}{" zero" if not n else ""}"><span class="n">{n}</span>'
                     f'<span class="l">{s}</span></div>')
    doms = " · ".join(f'{e(DOMAIN_TITLES[d])} <b>{counts.get(d, 0)}</b>' for d in DOMAINS)
    top = report["summary"].get("top")
    top_html = (f'<p class="topline"><span class="k">Top target</span> <a href="#finding-1" class="jump" data-rank="1">'
                f'{e(top)}</a></p>') if top else '<p class="topline">Nothing crossed the thresholds.</p>'
    return (f'<section class="summary" aria-label="Summary"><div class="cards">{"".join(cards)}</div>'
            f'<p class="domains">{doms}</p>{top_html}</section>')


def _findings_table(result: ScanResult, report: Dict[str, Any], charted: Mapping[str, str]) -> str:
    rows = report["findings"]
    out = ['<section id="findings" aria-labelledby="findings-h">',
           f'<div class="sec-head"><h2 id="findings-h">Ranked findings</h2>'
           f'<span class="count" id="findings-count" aria-live="polite">{len(rows)} of {len(rows)}</span></div>']
    if not rows:
        out.append('<p class="empty">No findings: nothing crossed the thresholds in the passes that ran.</p></section>')
        return "\n".join(out)
    present_domains = [d for d in DOMAINS if any(r["domain"] == d for r in rows)]
    present_sevs = [s for s in SEVERITIES if any(r["severity"] == s for r in rows)]
    out.append('<div class="filters">'
               '<label>Domain <select id="f-domain"><option value="">all</option>'
               + "".join(f'<option value="{d}">{e(DOMAIN_TITLES[d])}</option>' for d in present_domains)
               + '</select></label><label>Severity <select id="f-sev"><option value="">all</option>'
               + "".join(f'<option value="{s}">{s}</option>' for s in present_sevs)
               + '</select></label><span class="hint">Click a column to sort; open a row for its evidence and to '
               'highlight it in the charts.</span></div>')
    cols = [("rank", "#", "num"), ("sev", "Severity", "num"), ("domain", "Domain", "str"),
            ("target", "Target", "str"), ("mag", "Metric", "num"), ("pattern", "Pattern", "str")]
    out.append('<div class="table-wrap"><table id="findings-table" class="findings"><thead><tr>')
    for key, label, typ in cols:
        sort = ' aria-sort="ascending"' if key == "rank" else ""
        title = ' title="sorted by magnitude: the metric as a multiple of its domain\'s high threshold"' if key == "mag" else ""
        out.append(f'<th scope="col" class="c-{key}"{sort}><button type="button" class="sort" data-key="{key}" '
                   f'data-type="{typ}"{title}>{label}<span class="arrow" aria-hidden="true"></span></button></th>')
    out.append('</tr></thead>')
    for r, ranked in zip(rows, result.findings):
        rank = int(r["rank"])
        sev_idx = SEVERITIES.index(r["severity"]) if r["severity"] in SEVERITIES else len(SEVERITIES)
        tname = target_name(ranked)
        pattern = r.get("pattern") or "none"
        words = PATTERN_WORDS.get(pattern, "")
        chart = charted.get(f'{r["domain"]}|{r["qualname"] if r["domain"] != "import" else (r["module"] or r["symbol"])}', "")
        attrs = (f'data-rank="{rank}" data-sev="{sev_idx}" data-severity="{e(r["severity"])}" data-domain="{e(r["domain"])}" '
                 f'data-target="{e(tname.lower())}" data-mag="{float(r.get("magnitude") or 0):.6g}" '
                 f'data-pattern="{e(pattern)}" data-qualname="{e(r["qualname"])}" data-module="{e(r["module"] or "")}"')
        adjusted = r["severity"] != r["base_severity"]
        sev_cell = (f'<span class="sev sev-{e(r["severity"])}">{e(r["severity"])}</span>'
                    + (f'<span class="base" title="base severity before the deployment adjustment">from {e(r["base_severity"])}</span>'
                       if adjusted else ""))
        out.append(f'<tbody class="finding-group" id="finding-{rank}" {attrs}>')
        out.append(f'<tr class="finding"><td class="c-rank">{rank}</td><td class="c-sev">{sev_cell}</td>'
                   f'<td class="c-domain"><span class="dom dom-{e(r["domain"])}">{e(DOMAIN_TITLES.get(r["domain"], r["domain"]))}</span></td>'
                   f'<td class="c-target"><button type="button" class="expand" aria-expanded="false" '
                   f'aria-controls="detail-{rank}"><span class="chev" aria-hidden="true"></span>'
                   f'<span class="tname">{e(tname)}</span></button></td>'
                   f'<td class="c-mag">{e(r["metric"]["label"])}</td>'
                   f'<td class="c-pattern">' + (f'<code title="{e(words)}">{e(pattern)}</code>' if pattern != "none" else '<span class="muted">—</span>')
                   + '</td></tr>')
        loc = f'{r["file"]}:{r["line"]}' if r.get("file") and r.get("line") else (r.get("file") or "")
        items = [("Evidence", f'<p class="evidence">{e(r["evidence"])}</p>'),
                 ("Source", (f'<code>{e(loc)}</code> ' if loc else "") + f'<code class="muted">{e(r["qualname"])}</code>'),
                 ("Estimated impact", e(r["estimated_impact"])),
                 ("Phase", e(r["phase"]))]
        if words:
            items.append(("Pattern", f'<code>{e(pattern)}</code> {e(words)}'))
        if r.get("note"):
            items.append(("Note", e(r["note"])))
        if adjusted:
            items.append(("Severity", f'{e(r["severity"])} (base {e(r["base_severity"])})'))
        if r["domain"] == "async":
            items.append(("Confirmed at run time", "yes" if r.get("runtime_confirmed") else "no"))
        measured = []
        for k, v in (r.get("details") or {}).items():
            if v in (None, "", [], {}):
                continue
            label, text = _detail(str(k), v)
            measured.append(f'<li><span class="ml">{e(label)}</span> {e(text)}</li>')
        if measured:
            items.append(("Measured", f'<ul class="measured">{"".join(measured)}</ul>'))
        dl = "".join(f"<div><dt>{e(k)}</dt><dd>{v}</dd></div>" for k, v in items)
        link = (f'<p><a class="show" href="#{chart}" data-rank="{rank}">Show in the {e(_CHART_NAMES[chart])}</a></p>'
                if chart else "")
        out.append(f'<tr class="detail" id="detail-{rank}" hidden><td></td><td colspan="5"><dl class="kv">{dl}</dl>{link}</td></tr>')
        out.append('</tbody>')
    out.append('</table></div></section>')
    return "\n".join(out)


_CHART_NAMES = {"flame": "CPU chart", "waterfall": "import waterfall", "memory": "memory chart"}


def _flame_section(result: ScanResult, tree: Optional[Dict[str, Any]], problem: Optional[str] = None) -> str:
    cpu = result.passes.get("cpu")
    head = '<section id="flame" aria-labelledby="flame-h"><div class="sec-head"><h2 id="flame-h">CPU: where the profiled tests spend time</h2></div>'
    if tree is None:
        why = problem or ("the CPU pass did not run" if cpu is None else
               f"the CPU pass {cpu.status}" + (f": {cpu.error}" if cpu.error else "") if cpu.status != "ok" else
               "no profile (cpu.pstats) was found next to the report")
        return head + f'<p class="empty">No chart: {e(why)}.</p></section>'
    data = cpu.data if cpu else {}
    wall = float(data.get("wall_seconds") or 0.0)
    phases = data.get("phase_seconds") or {}
    phase_txt = ", ".join(f"{k} {_fmt_seconds(float(v))}" for k, v in phases.items() if v)
    return (head +
            '<p class="lede">An icicle chart: each bar is a function, as wide as its time; what it calls hangs below it. ' +
            (f'Profiled wall time {e(_fmt_seconds(wall))}' + (f' ({e(phase_txt)})' if phase_txt else '') + '; the chart'
             if wall > 0 else 'The chart') +
            f' spans {e(_fmt_seconds(float(tree["t"])))} of code under the tests (the harness left out). '
            f'Built from the profile\'s caller edges, so the stacks are approximate. Click a bar (or press Enter on it) to zoom in; Escape zooms out.</p>'
            '<div class="legend" aria-label="Legend"><span class="sw k-project"></span>project'
            '<span class="sw k-test"></span>tests<span class="sw k-library"></span>libraries'
            '<span class="sw k-stdlib"></span>standard library<span class="sw k-builtin"></span>built-ins'
            '<span class="sw hl"></span>selected finding'
            '<button type="button" id="flame-reset" class="btn" disabled>Reset zoom</button></div>'
            f'<div id="flame-chart" class="flame" data-wall="{wall:.6g}" role="group" aria-label="CPU icicle chart">'
            '<noscript><p class="empty">The chart is drawn by the page\'s script; the findings table has the same functions.</p></noscript></div>'
            '<p id="flame-info" class="info" aria-live="polite">Hover or focus a bar for its details.</p></section>')


def _waterfall_section(result: ScanResult, waterfall: Tuple[List[Dict[str, Any]], float, str],
                       finding_ranks: Mapping[str, int], problem: Optional[str] = None) -> str:
    imp = result.passes.get("import")
    head = '<section id="waterfall" aria-labelledby="wf-h"><div class="sec-head"><h2 id="wf-h">Import time: the slow part of the import tree</h2></div>'
    rows, scale, how = waterfall
    if not rows or scale <= 0:
        why = problem or ("the import pass did not run" if imp is None else
               f"the import pass {imp.status}" + (f": {imp.error}" if imp.error else "") if imp.status != "ok" else
               "no module took long enough to show")
        return head + f'<p class="empty">No waterfall: {e(why)}.</p></section>'
    if how == "tree":
        lede = (f'Each bar is one module, placed when its import started and as long as its cumulative import time '
                f'(the darker end is its own code). Modules under {_fmt_ms(max(WATERFALL_MIN_MS, scale * WATERFALL_MIN_SHARE))} '
                f'are left out. Minimum of the measured runs, warm bytecode cache.')
    else:
        lede = 'The slowest modules by cumulative import time (no import tree was found next to the report).'
    out = [head, f'<p class="lede">{e(lede)}</p>',
           '<div class="legend"><span class="sw k-project"></span>project<span class="sw k-third-party"></span>third-party'
           '<span class="sw k-stdlib"></span>standard library<span class="sw self"></span>own code</div>',
           '<div class="wf" role="table" aria-label="Import waterfall"><div class="wf-row wf-axis" role="row">'
           '<span class="wf-name" role="columnheader">module</span><span class="wf-track" role="columnheader">'
           f'<span class="tick" style="left:0">0</span><span class="tick" style="left:50%">{e(_fmt_ms(scale / 2))}</span>'
           f'<span class="tick end">{e(_fmt_ms(scale))}</span></span><span class="wf-ms" role="columnheader">cumulative</span></div>']
    last_target = None
    for r in rows:
        if how == "tree" and r["target"] != last_target:
            last_target = r["target"]
            out.append(f'<div class="wf-row wf-group" role="row"><span class="wf-name" role="rowheader">import {e(last_target)}</span></div>')
        left = 100.0 * r["start_ms"] / scale
        width = max(100.0 * r["cumulative_ms"] / scale, 0.2)
        self_w = 100.0 * min(r["self_ms"], r["cumulative_ms"]) / r["cumulative_ms"] if r["cumulative_ms"] else 0
        rank = finding_ranks.get("import|" + r["name"])
        kind = r["kind"] if r["kind"] in ("project", "third-party", "stdlib") else "other"
        title = (f'{r["name"]} ({r["kind"] or "module"}): {_fmt_ms(r["cumulative_ms"])} cumulative, '
                 f'{_fmt_ms(r["self_ms"])} own' + (f', started at {_fmt_ms(r["start_ms"])}' if how == "tree" else "")
                 + (f'; {r["imported_by"]}' if r.get("imported_by") else ""))
        badge = f'<a class="rank" href="#finding-{rank}" data-rank="{rank}">#{rank}</a>' if rank else ""
        rank_attr = f' data-rank="{rank}"' if rank else ""
        out.append(f'<div class="wf-row" role="row" data-module="{e(r["name"])}"{rank_attr}>'
                   f'<span class="wf-name" role="rowheader" style="padding-left:{0.4 + 0.9 * r["depth"]:.1f}em" title="{e(title)}">'
                   f'{e(r["name"])}{badge}</span>'
                   f'<span class="wf-track" role="cell"><span class="wf-bar k-{kind}" style="left:{left:.3f}%;width:{width:.3f}%" title="{e(title)}">'
                   f'<span class="wf-self" style="width:{self_w:.1f}%"></span></span></span>'
                   f'<span class="wf-ms" role="cell">{e(_fmt_ms(r["cumulative_ms"]))}</span></div>')
    out.append('</div></section>')
    return "\n".join(out)


def _memory_section(result: ScanResult, rows: List[Dict[str, Any]], finding_ranks: Mapping[str, int],
                    problem: Optional[str] = None) -> str:
    mem = result.passes.get("memory")
    head = '<section id="memory" aria-labelledby="mem-h"><div class="sec-head"><h2 id="mem-h">Memory: top allocations alive at the peak</h2></div>'
    if not rows:
        why = problem or ("the memory pass did not run" if mem is None else
               f"the memory pass {mem.status}" + (f": {mem.error}" if mem.error else "") if mem.status != "ok" else
               "no project function held more than the threshold at the peak")
        return head + f'<p class="empty">No allocations to show: {e(why)}.</p></section>'
    top = max(r["mib"] for r in rows) or 1.0
    engine = (mem.data or {}).get("tool") or (mem.data or {}).get("engine") or ""
    out = [head, f'<p class="lede">MiB alive at the peak of each test, by the project function that allocated it'
                 f'{" (" + e(engine) + ")" if engine else ""}.</p>', '<div class="mem" role="table" aria-label="Memory top allocations">']
    for r in rows:
        loc = f'{r["file"]}:{r["line"]}' if r["file"] and r["line"] else (r["file"] or "")
        qual = r["function"]
        rank = finding_ranks.get("memory|" + qual)
        badge = f'<a class="rank" href="#finding-{rank}" data-rank="{rank}">#{rank}</a>' if rank else ""
        extra = " · ".join(x for x in (f'{r["count"]:,} allocations' if isinstance(r["count"], int) else "",
                                       str(r["category"]), f'reducibility {r["reducibility"]}' if r["reducibility"] else "") if x)
        out.append(f'<div class="mem-row" role="row" data-qualname="{e(qual)}">'
                   f'<span class="mem-name" role="rowheader"><span class="fn">{e(qual)}</span>{badge}'
                   f'<span class="loc">{e(loc)}</span></span>'
                   f'<span class="mem-track" role="cell"><span class="mem-bar" style="width:{max(100.0 * r["mib"] / top, 0.5):.2f}%"></span></span>'
                   f'<span class="mem-val" role="cell"><b>{r["mib"]:.1f} MiB</b><span class="loc">{e(extra)}</span></span></div>')
    out.append('</div></section>')
    return "\n".join(out)


def _guarded(problems: Dict[str, str], name: str, fn: Any, result: ScanResult, default: Any) -> Any:
    """A picture that cannot be drawn (an unreadable or odd artifact) says why; the page still renders."""
    try:
        return fn(result)
    except Exception as exc:  # noqa: BLE001 - the page must render whatever the artifacts hold
        problems[name] = f"could not be drawn ({type(exc).__name__}: {exc})"
        return default


def _contains(tree: Optional[Dict[str, Any]], quals: set) -> set:
    found = set()
    stack = [tree] if tree else []
    while stack:
        n = stack.pop()
        if n["q"] in quals:
            found.add(n["q"])
        stack.extend(n["c"])
    return found


def render_html(result: ScanResult) -> str:
    """The page, as one string: UTF-8 HTML with its CSS, script and data inline."""
    report = to_dict(result)
    tests = report["target"]["tests"]
    if len(tests) > MAX_TESTS_IN_DATA:
        report["target"]["tests"] = tests[:MAX_TESTS_IN_DATA]
        report["target"]["tests_total"] = len(tests)
    problems: Dict[str, str] = {}
    tree = _guarded(problems, "flame", flame_tree, result, None)
    waterfall = _guarded(problems, "waterfall", waterfall_rows, result, ([], 0.0, ""))
    mem_rows = _guarded(problems, "memory", memory_rows, result, [])
    wf_rows = waterfall[0]
    in_flame = _contains(tree, {f["qualname"] for f in report["findings"] if f["domain"] == "cpu"})
    wf_names = {r["name"] for r in wf_rows}
    mem_names = {r["function"] for r in mem_rows}
    charted: Dict[str, str] = {}
    finding_ranks: Dict[str, int] = {}
    for f in report["findings"]:
        d, q, m = f["domain"], f["qualname"], f["module"] or f["symbol"]
        if d == "cpu" and q in in_flame:
            charted[f"cpu|{q}"] = "flame"
        elif d == "import" and m in wf_names:
            charted[f"import|{m}"] = "waterfall"
            finding_ranks.setdefault(f"import|{m}", f["rank"])
        elif d == "memory" and q in mem_names:
            charted[f"memory|{q}"] = "memory"
            finding_ranks.setdefault(f"memory|{q}", f["rank"])
    data = {"report": report, "flame": tree}
    title = f"perfscan: {result.project.name} ({result.date})"
    nav = ('<nav class="toc" aria-label="Sections"><a href="#findings">Findings</a><a href="#flame">CPU chart</a>'
           '<a href="#waterfall">Import waterfall</a><a href="#memory">Memory</a></nav>')
    body = "\n".join([
        _header(result, report), nav, _summary(result, report),
        _findings_table(result, report, charted),
        _flame_section(result, tree, problems.get("flame")),
        _waterfall_section(result, waterfall, finding_ranks, problems.get("waterfall")),
        _memory_section(result, mem_rows, finding_ranks, problems.get("memory")),
        f'<footer>Written by perfscan {e(result.tool_version)} on {e(result.date)}. The same findings are in '
        f'<code>scan-report.md</code> and <code>scan-report.json</code>; the full profile is <code>cpu.pstats</code>, '
        f'the import tree <code>imports.json</code>.</footer>',
    ])
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<meta name=\"color-scheme\" content=\"light dark\">\n"
            f"<title>{e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
            f'<script type="application/json" id="perfscan-data">{_json_for_script(data)}</script>\n'
            f"<script>{JS}</script>\n</body>\n</html>\n")
