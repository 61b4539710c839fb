#!/usr/bin/env python3
"""perfscan benchmark harness: scan cost, pass overheads, accuracy on the corpus, and the peers.

    python bench/run.py [--rounds N] [--projects a,b] [--quick] [--no-peers] [--runner PY]
                        [--corpus DIR] [--async-files N] [--timeout S] [--keep]

For each corpus project (copied to a private temp folder; the corpus is never written), in
interleaved rounds (every variant once per round, A B A B), it measures:

- the plain test run (`<runner> -m pytest -q -p no:cacheprovider`), wall time;
- perfscan's whole scan (`python -m perfscan COPY --runner PY --quiet`) as a ratio to it, and
  each pass's own seconds from `.codeflash/scan-report.json` (cpu and memory as ratios to the
  plain run, import and async in seconds; a pass that did not run shows "n/a: <why>");
- accuracy: the corpus's score.py against EXPECTED.json, and the rank of each planted problem;
- the peers on the same tests (pyinstrument, Scalene, py-spy from a private cached venv, and
  plain cProfile): overhead ratio and whether their top project function is the planted one;
- the async pass over a generated tree of many small files.

Results: Markdown on stdout and in bench/last-run.md. Progress goes to stderr. Figures are
median (min-max) over the rounds; nothing asserts a wall-clock limit. Standard library only.
"""
from __future__ import annotations

import argparse
import collections
import datetime
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DEFAULT_PROJECTS = ("cli_wordfreq", "wsgi_orders", "lib_graph", "lambda_thumbs", "clean_lib")
QUICK_PROJECT = "cli_wordfreq"
PEERS = ("pyinstrument", "scalene", "py-spy", "cprofile")
PEER_TITLES = {"perfscan": "perfscan cpu pass", "pyinstrument": "pyinstrument", "scalene": "Scalene (--cpu-only)",
               "py-spy": "py-spy", "cprofile": "cProfile"}
PEER_PACKAGES = ("pyinstrument", "scalene", "py-spy", "pytest")
PYTEST_ARGS = ("-q", "-p", "no:cacheprovider")
PASSES = ("cpu", "memory", "import", "async")

_LIVE = set()


def die(msg):
    """A usage or set-up error: one line on stderr, exit 2."""
    print(f"bench: {msg}", file=sys.stderr)
    raise SystemExit(2)


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- children

class Child:
    """The outcome of one child process; its output is in files."""

    def __init__(self, argv, rc, seconds, out, err, timed_out=False, start_error=""):
        self.argv, self.rc, self.seconds, self.out, self.err = argv, rc, seconds, out, err
        self.timed_out, self.start_error = timed_out, start_error

    @property
    def ok(self):
        return self.rc == 0 and not self.timed_out and not self.start_error

    def text(self, which="err"):
        try:
            return Path(self.err if which == "err" else self.out).read_text("utf-8", "replace")
        except OSError:
            return ""

    def last_line(self, which="err"):
        lines = [ln.strip() for ln in self.text(which).splitlines() if ln.strip()]
        return lines[-1] if lines else ""

    def why(self):
        """One line saying why the child did not succeed."""
        if self.start_error:
            return self.start_error
        if self.timed_out:
            return f"timed out after {self.seconds:.0f} s"
        tail = self.last_line("err") or self.last_line("out")
        code = f"killed by signal {-self.rc}" if self.rc is not None and self.rc < 0 else f"exit {self.rc}"
        return f"{code}: {tail[:160]}" if tail else code


def run_child(argv, cwd, env, logdir, name, timeout):
    """Run argv (a list, no shell) in its own process group with a timeout; output to files."""
    logdir.mkdir(parents=True, exist_ok=True)
    out, err = logdir / f"{name}.out", logdir / f"{name}.err"
    start = time.perf_counter()
    with open(out, "wb") as fo, open(err, "wb") as fe:
        try:
            proc = subprocess.Popen([str(a) for a in argv], cwd=str(cwd), env=env, stdin=subprocess.DEVNULL,
                                    stdout=fo, stderr=fe, start_new_session=True)
        except OSError as exc:
            return Child(argv, None, 0.0, out, err, start_error=f"cannot start {argv[0]}: {exc.strerror or exc}")
        _LIVE.add(proc)
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _killpg(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
        finally:
            _killpg(proc, signal.SIGKILL)  # whatever is left in its group
            proc.wait()
            _LIVE.discard(proc)
    return Child(argv, proc.returncode, time.perf_counter() - start, out, err, timed_out)


def _killpg(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError, OSError):
        pass


# --------------------------------------------------------------------------- statistics and cells

def spread(values, fmt):
    """`median (min-max)` of the values with fmt, or just the value for one round."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    med = fmt(statistics.median(values))
    return med if len(values) == 1 else f"{med} ({fmt(min(values))}-{fmt(max(values))})"


def secs(v):
    return f"{v:.2f} s" if v < 10 else f"{v:.1f} s"


def ratio(v):
    return f"{v:.2f}x" if v < 10 else f"{v:.1f}x"


def cell_escape(text):
    return str(text).replace("|", "\\|").replace("`", "'").replace("\n", " ")


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def tally(values):
    """'x' when every round agrees, else 'x 2/3, y 1/3'."""
    counts = collections.Counter(values)
    if len(counts) == 1:
        return next(iter(counts))
    n = len(values)
    return ", ".join(f"{v} {c}/{n}" for v, c in counts.most_common())


# --------------------------------------------------------------------------- set-up

def resolve_runner(spec):
    """A runner is a command prefix; a python is appended unless it ends in one (as perfscan does)."""
    argv = shlex.split(spec) if spec else [sys.executable]
    if not argv:
        argv = [sys.executable]
    if not re.match(r"python[0-9.]*(\.exe)?$", Path(argv[-1]).name):
        argv.append("python")
    return argv


def base_env(pycache):
    """The environment of the measured runs: no inherited pytest or perfscan settings, no
    PYTHONPATH, bytecode in a private prefix (the copy stays clean; all runs share the cache)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "PERFSCAN_")) and k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE")}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env["NO_COLOR"] = "1"
    env["PYTHONHASHSEED"] = "0"
    return env


def copy_project(src, dst):
    shutil.copytree(src, dst, symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".codeflash", ".pytest_cache"))
    for root, dirs, files in os.walk(dst):  # the shared corpus has no write bits
        for name in dirs + files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | 0o200)
    os.chmod(dst, os.stat(dst).st_mode | 0o200)


def load_score_module(corpus):
    path = corpus / "score.py"
    spec = importlib.util.spec_from_file_location("perfscan_corpus_score", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Peers:
    """pyinstrument, Scalene and py-spy in a private venv made from the runner's python."""

    def __init__(self, venv, runner_python, work, timeout):
        self.venv, self.runner_python, self.work, self.timeout = venv, runner_python, work, timeout
        self.bin = venv / ("Scripts" if os.name == "nt" else "bin")
        self.python = self.bin / "python"
        self.missing = {}  # peer -> reason it cannot run
        self.missing_pytest = False
        self.versions = {}

    def tool(self, name):
        return self.bin / name

    def _have(self):
        have = {"pyinstrument": self.tool("pyinstrument").exists(), "scalene": self.tool("scalene").exists(),
                "py-spy": self.tool("py-spy").exists()}
        if self.python.exists():
            c = run_child([self.python, "-c", "import pytest"], self.work, dict(os.environ), self.work / "logs", "peers-pytest", 60)
            have["pytest"] = c.ok
        else:
            have["pytest"] = False
        return have

    def prepare(self):
        logs = self.work / "logs"
        if not self.python.exists():
            log(f"creating the peers' venv {self.venv}")
            c = run_child([self.runner_python, "-m", "venv", self.venv], REPO, dict(os.environ), logs, "peers-venv", self.timeout)
            if not c.ok:
                for p in ("pyinstrument", "scalene", "py-spy"):
                    self.missing[p] = f"no venv: {c.why()}"
                return
        have = self._have()
        if not all(have.values()):
            log(f"installing {', '.join(PEER_PACKAGES)} into {self.venv} (cached for later runs)")
            c = run_child([self.python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *PEER_PACKAGES],
                          REPO, dict(os.environ), logs, "peers-pip", self.timeout)
            have = self._have()
            if not c.ok:
                # one package failing stops pip altogether: try each alone so the others still run
                for pkg in PEER_PACKAGES:
                    if not have[pkg]:
                        run_child([self.python, "-m", "pip", "install", "-q", "--disable-pip-version-check", pkg],
                                  REPO, dict(os.environ), logs, f"peers-pip-{pkg}", self.timeout)
                have = self._have()
            reason = c.why() if not c.ok else "installed, but its command is missing"
            for p in ("pyinstrument", "scalene", "py-spy"):
                if not have[p]:
                    self.missing[p] = f"cannot install: {reason}"
            if not have["pytest"]:
                self.missing_pytest = True
                for p in ("pyinstrument", "scalene", "py-spy"):
                    self.missing.setdefault(p, f"pytest does not install in the peers' venv: {reason}")
        code = ("import json, importlib.metadata as m\nout = {}\n"
                "for n in ('pyinstrument', 'scalene', 'py-spy', 'pytest'):\n"
                "    try: out[n] = m.version(n)\n    except Exception: pass\nprint(json.dumps(out))")
        c = run_child([self.python, "-c", code], REPO, dict(os.environ), logs, "peers-versions", 60)
        try:
            self.versions = json.loads(c.text("out").strip().splitlines()[-1])
        except (ValueError, IndexError):
            self.versions = {}


# --------------------------------------------------------------------------- project code and the peers' profiles

class ProjectFilter:
    """Project functions: files inside the copy, not tests, conftest, venvs or site-packages;
    comprehensions, lambdas and module bodies (`<...>`) fold into their enclosing function."""

    def __init__(self, root):
        self.root = os.path.realpath(root)
        self._cache = {}

    def rel(self, path):
        if not path:
            return None
        if path in self._cache:
            return self._cache[path]
        rel = None
        full = os.path.realpath(path if os.path.isabs(path) else os.path.join(self.root, path))
        if full.startswith(self.root + os.sep):
            r = Path(os.path.relpath(full, self.root)).as_posix()
            parts = r.split("/")
            name = parts[-1]
            if not (set(parts[:-1]) & {"tests", "test", "site-packages", "dist-packages", ".venv", "venv", ".codeflash"}
                    or name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")
                    or not name.endswith(".py")):
                rel = r
        self._cache[path] = rel
        return rel

    def function(self, path, name):
        """(rel file, function name) when this frame is a project function, else None."""
        last = (name or "").split(".")[-1]  # py-spy and Scalene give qualnames
        if not last or last.startswith("<"):
            return None
        rel = self.rel(path)
        return (rel, last) if rel else None


def top_of(times):
    if not times:
        return None
    (rel, name), _ = max(times.items(), key=lambda kv: kv[1])
    return name


def top_pyinstrument(path, filt):
    """Self time of each node credited to its innermost project function (attributable time)."""
    data = json.loads(Path(path).read_text("utf-8"))
    times = collections.Counter()
    stack = [(data["root_frame"], None)]
    while stack:
        node, owner = stack.pop()
        own = filt.function(node.get("file_path"), node.get("function")) or owner
        children = node.get("children") or []
        self_time = node.get("time", 0.0) - sum(ch.get("time", 0.0) for ch in children)
        if own and self_time > 0:
            times[own] += self_time
        stack.extend((ch, own) for ch in children)
    return top_of(times)


def top_speedscope(path, filt):
    """Each sample credited to its innermost project function, in every thread."""
    data = json.loads(Path(path).read_text("utf-8"))
    frames = data.get("shared", {}).get("frames", [])
    keys = [filt.function(f.get("file"), f.get("name")) for f in frames]
    times = collections.Counter()
    for prof in data.get("profiles", []):
        weights = prof.get("weights") or [1] * len(prof.get("samples", []))
        for sample, w in zip(prof.get("samples", []), weights):
            for idx in reversed(sample):  # leaf last
                if keys[idx]:
                    times[keys[idx]] += w
                    break
    return top_of(times)


def top_scalene(path, filt):
    """Scalene's per-function CPU percent (python + native + system)."""
    text = Path(path).read_text("utf-8").strip()
    data = json.loads(text) if text else {}
    times = collections.Counter()
    for fname, info in (data.get("files") or {}).items():
        for fn in info.get("functions", []):
            key = filt.function(fname, fn.get("line"))
            if key:
                times[key] += sum(float(fn.get(k) or 0) for k in ("n_cpu_percent_python", "n_cpu_percent_c", "n_sys_percent"))
    if not data.get("files"):
        raise ValueError("Scalene wrote no profile")
    return top_of(times)


PSTATS_DUMP = r"""
import json, pstats, sys
st = pstats.Stats(sys.argv[1]).stats
rows = [[f, l, n, tt, ct, [[cf, cl, cn, v[3]] for (cf, cl, cn), v in callers.items()]]
        for (f, l, n), (cc, nc, tt, ct, callers) in st.items()]
json.dump(rows, open(sys.argv[2], "w"))
"""


def top_cprofile(rows, filt):
    """Attributable time (docs/design.md): cumulative time minus the cumulative time of the project
    functions it calls directly, other than itself."""
    key_of = {}
    for f, l, n, tt, ct, callers in rows:
        key_of[(f, l, n)] = filt.function(f, n)
    att = collections.Counter()
    for f, l, n, tt, ct, callers in rows:
        k = key_of[(f, l, n)]
        if k:
            att[k] += ct
    for f, l, n, tt, ct, callers in rows:
        callee = key_of[(f, l, n)]
        if not callee:
            continue
        for cf, cl, cn, cct in callers:
            caller = key_of.get((cf, cl, cn))
            if caller and caller != callee:
                att[caller] -= cct
    return top_of(att)


# --------------------------------------------------------------------------- measuring one project

class ProjectBench:
    def __init__(self, name, corpus, work, ctx):
        self.name, self.ctx = name, ctx
        self.src = corpus / name
        self.copy = work / "projects" / name
        self.logs = work / "logs" / name
        self.reports = work / "reports" / name
        self.expected = json.loads((self.src / "EXPECTED.json").read_text("utf-8"))
        cpu_rules = [r for r in self.expected.get("expect", []) if r.get("domain") == "cpu" and r.get("symbol")]
        sym = cpu_rules[0]["symbol"] if cpu_rules else None
        self.planted = ([sym] if isinstance(sym, str) else list(sym)) if sym else []
        self.plain = []  # seconds per round
        self.plain_venv = []  # seconds per round of the same tests in the peers' venv (its own baseline)
        self.scans = []  # dicts per round
        self.peers = collections.defaultdict(list)  # peer -> [(seconds or None, top or None, note)]

    def setup(self):
        copy_project(self.src, self.copy)
        self.reports.mkdir(parents=True, exist_ok=True)
        log(f"{self.name}: warm-up run (not counted)")
        c = self.run_plain("warmup")
        if not c.ok:
            log(f"{self.name}: warm-up run did not pass ({c.why()}); timings still reported")

    def run_plain(self, tag):
        return run_child([*self.ctx.runner, "-m", "pytest", *PYTEST_ARGS], self.copy, self.ctx.env, self.logs,
                         f"plain-{tag}", self.ctx.timeout)

    def round(self, i):
        order = ["plain", "scan"] + ([] if self.ctx.peers is None else ["plain-venv", *PEERS])
        for variant in order:
            if variant == "plain":
                c = self.run_plain(i)
                self.plain.append(c.seconds)
                log(f"{self.name} round {i}: plain {c.seconds:.1f} s" + ("" if c.ok else f" ({c.why()})"))
            elif variant == "scan":
                self.scans.append(self.run_scan(i))
            elif variant == "plain-venv":
                self.plain_venv.append(self.run_plain_venv(i))
            else:
                self.peers[variant].append(self.run_peer(variant, i))

    def run_plain_venv(self, i):
        """The plain run in the peers' venv: pyinstrument, Scalene and py-spy are measured against
        it, since that venv's pytest and plugins (none) differ from the runner's."""
        peers = self.ctx.peers
        if not peers.python.exists() or peers.missing_pytest:
            return None
        c = run_child([peers.python, "-m", "pytest", *PYTEST_ARGS], self.copy, self.ctx.env, self.logs,
                      f"plain-venv-{i}", self.ctx.timeout)
        log(f"{self.name} round {i}: plain in the peers' venv {c.seconds:.1f} s" + ("" if c.ok else f" ({c.why()})"))
        return c.seconds if not (c.timed_out or c.start_error) else None

    # perfscan ------------------------------------------------------------
    def run_scan(self, i):
        argv = [self.ctx.host_python, "-m", "perfscan", self.copy, "--runner", shlex.join(self.ctx.runner), "--quiet"]
        c = run_child(argv, self.copy, self.ctx.perfscan_env, self.logs, f"scan-{i}", self.ctx.timeout)
        out = {"seconds": c.seconds, "error": None, "report": None}
        report = self.copy / ".codeflash" / "scan-report.json"
        if c.rc not in (0, 1) or not report.exists():
            out["error"] = f"scan failed: {c.why()}"
            log(f"{self.name} round {i}: {out['error']}")
            return out
        kept = self.reports / f"scan-report-{i}.json"
        shutil.copyfile(report, kept)
        report.unlink()
        out["report"] = json.loads(kept.read_text("utf-8"))
        out["score"] = self.score(kept, i)
        out["ranks"] = self.planted_ranks(out["report"])
        log(f"{self.name} round {i}: scan {c.seconds:.1f} s, {out['score'].get('line', '?')}")
        return out

    def score(self, report_path, i):
        c = run_child([self.ctx.host_python, self.ctx.corpus / "score.py", self.src / "EXPECTED.json", report_path],
                      self.copy, self.ctx.env, self.logs, f"score-{i}", 120)
        line = c.last_line("out")
        m = re.match(r"score: (\d+)/(\d+) expected, (\d+) forbidden, (\d+) outside project", line)
        if not m:
            return {"error": f"score.py: {c.why()}"}
        met, total, forbidden, outside = map(int, m.groups())
        return {"line": line, "met": met, "total": total, "forbidden": forbidden, "outside": outside}

    def planted_ranks(self, report):
        """For each expect rule: the best rank of a finding matching it (score.py's matching);
        a finding in the right place but with another severity or pattern is marked '*'."""
        sc = self.ctx.score_mod
        findings = report.get("findings", [])
        ranks = []
        for rule in self.expected.get("expect", []):
            strict = [sc.rank_of(f) for f in findings if sc.matches(f, rule)]
            where = {k: rule[k] for k in ("domain", "file", "symbol", "module") if k in rule}
            loose = [sc.rank_of(f) for f in findings if sc.matches(f, where, strict=False)]
            status = ((report.get("passes") or {}).get(rule.get("domain")) or {}).get("status")
            if strict:
                ranks.append(f"#{min(strict)}")
            elif loose:
                ranks.append(f"#{min(loose)}*")
            elif status != "ok":
                ranks.append(f"n/a ({rule.get('domain')} pass {status or 'absent'})")
            else:
                ranks.append("miss")
        return ranks

    def rule_label(self, rule):
        what = rule.get("symbol") or rule.get("module") or "?"
        what = what[0] if isinstance(what, list) else what
        pat = rule.get("pattern")
        pat = pat[0] if isinstance(pat, list) and pat else pat
        return f"{rule.get('domain')} {what}" + (f" ({pat})" if pat else "")

    # peers ---------------------------------------------------------------
    def run_peer(self, peer, i):
        peers = self.ctx.peers
        if peer in peers.missing:
            return (None, None, peers.missing[peer])
        filt = ProjectFilter(self.copy)
        ext = {"pyinstrument": ".json", "scalene": ".json", "py-spy": ".speedscope.json", "cprofile": ".prof"}[peer]
        out = self.ctx.work / "peer-out" / self.name / f"{peer}-{i}{ext}"
        out.parent.mkdir(parents=True, exist_ok=True)
        pytest_m = ["-m", "pytest", *PYTEST_ARGS]
        if peer == "pyinstrument":
            argv = [peers.tool("pyinstrument"), "-r", "json", "-o", out, *pytest_m]
        elif peer == "scalene":
            argv = [peers.tool("scalene"), "run", "--cpu-only", "--program-path", self.copy, "-o", out,
                    "-m", "pytest", "---", *PYTEST_ARGS]
        elif peer == "py-spy":
            argv = [peers.tool("py-spy"), "record", "-o", out, "--format", "speedscope", "--", peers.python, *pytest_m]
        else:
            argv = [*self.ctx.runner, "-m", "cProfile", "-o", out, *pytest_m]
        c = run_child(argv, self.copy, self.ctx.env, self.logs, f"{peer}-{i}", self.ctx.timeout)
        note = "" if c.ok else c.why()
        if c.timed_out or c.start_error or not out.exists() or out.stat().st_size == 0:
            reason = note or "wrote no profile"
            if peer == "py-spy" and re.search(r"ptrace|permission|operation not permitted|EPERM", c.text(), re.I):
                reason = f"ptrace not permitted ({c.last_line()[:120]})"
            elif peer == "scalene" and "did not run for long enough" in c.text("out") + c.text():
                reason = "Scalene: the program did not run long enough to profile"
            log(f"{self.name} round {i}: {peer} failed: {reason}")
            return (None, None, reason)
        try:
            if peer == "pyinstrument":
                top = top_pyinstrument(out, filt)
            elif peer == "scalene":
                top = top_scalene(out, filt)
            elif peer == "py-spy":
                top = top_speedscope(out, filt)
            else:
                dump = out.with_suffix(".pstats.json")
                d = run_child([*self.ctx.runner, "-c", PSTATS_DUMP, out, dump], self.copy, self.ctx.env, self.logs,
                              f"pstats-{i}", 120)
                if not d.ok:
                    raise ValueError(f"pstats: {d.why()}")
                top = top_cprofile(json.loads(dump.read_text("utf-8")), filt)
        except (ValueError, KeyError, OSError) as exc:
            return (c.seconds, None, f"unreadable profile: {exc}")
        log(f"{self.name} round {i}: {peer} {c.seconds:.1f} s, top {top}" + (f" ({note})" if note else ""))
        return (c.seconds, top, note)

    # cells ---------------------------------------------------------------
    def ratios(self, values, base):
        return [v / p for v, p in zip(values, base) if v is not None and p]

    def pass_cell(self, name, as_ratio):
        vals, other = [], []
        for i, s in enumerate(self.scans):
            if not s.get("report"):
                other.append(s["error"])
                continue
            p = (s["report"].get("passes") or {}).get(name)
            if not p:
                other.append("n/a: not in the report")
            elif p.get("status") == "ok":
                v = float(p.get("seconds") or 0.0)
                vals.append(v / self.plain[i] if as_ratio and self.plain[i] else v)
            elif p.get("status") == "skipped":
                other.append(f"n/a: {p.get('error') or 'skipped'}")
            else:
                other.append(f"{p.get('status')}: {p.get('error') or ''} ({float(p.get('seconds') or 0):.1f} s)")
        cell = spread(vals, ratio if as_ratio else secs)
        if cell and other:
            return f"{cell}; {len(other)}/{len(self.scans)} rounds {tally(other)}"
        return cell or tally(other) or "n/a"

    def scan_cells(self):
        ok = [(s["seconds"], p) for s, p in zip(self.scans, self.plain) if not s.get("error")]
        errors = [s["error"] for s in self.scans if s.get("error")]
        scan_s = spread([s for s, _ in ok], secs) or "-"
        scan_r = spread([s / p for s, p in ok if p], ratio) or tally(errors)
        if ok and errors:
            scan_r += f"; {len(errors)}/{len(self.scans)} failed: {tally(errors)}"
        return [self.name, spread(self.plain, secs), scan_s, scan_r,
                self.pass_cell("cpu", True), self.pass_cell("memory", True),
                self.pass_cell("import", False), self.pass_cell("async", False)]

    def accuracy_cells(self):
        scored = [s for s in self.scans if s.get("report")]
        if not scored:
            reason = tally([s["error"] for s in self.scans])
            return [self.name, reason, "-", "-", "-", "-"]
        deps = [((s["report"].get("deployment") or {}).get("model") if isinstance(s["report"].get("deployment"), dict)
                 else s["report"].get("deployment")) for s in scored]
        dep = tally(deps)
        want = self.expected.get("deployment")
        dep_cell = f"{dep} (ok)" if dep == want else f"{dep} (expected {want})"
        scores = [s["score"] for s in scored]
        if any("error" in sc for sc in scores):
            bad = tally([sc["error"] for sc in scores if "error" in sc])
            return [self.name, dep_cell, bad, "-", "-", "-"]
        met = tally([f"{sc['met']}/{sc['total']}" for sc in scores])
        forb = tally([str(sc["forbidden"]) for sc in scores])
        outside = tally([str(sc["outside"]) for sc in scores])
        rules = self.expected.get("expect", [])
        if rules:
            parts = []
            for k, rule in enumerate(rules):
                parts.append(f"{self.rule_label(rule)}: {tally([s['ranks'][k] for s in scored])}")
            ranks = "; ".join(parts)
        else:
            ranks = "- (nothing planted)"
        return [self.name, dep_cell, met, forb, outside, ranks]

    def perfscan_top(self):
        tops = []
        for s in self.scans:
            if not s.get("report"):
                continue
            cpu = [f for f in s["report"].get("findings", []) if f.get("domain") == "cpu"]
            cpu.sort(key=lambda f: self.ctx.score_mod.rank_of(f))
            if cpu:
                tops.append((cpu[0].get("qualname") or cpu[0].get("symbol") or "").split(":")[-1].split(".")[-1])
            else:
                p = (s["report"].get("passes") or {}).get("cpu") or {}
                tops.append(None if p.get("status") == "ok" else f"n/a: cpu pass {p.get('status')}")
        return tops

    def top_cell(self, tops):
        """Whether the top project function is the planted one, over the rounds."""
        if not self.planted:
            shown = [t or "(none)" for t in tops]
            return f"- (top: {tally(shown)})" if shown else "-"
        marks = []
        for t in tops:
            if t is None:
                marks.append("no project function")
            elif t.startswith("n/a"):
                marks.append(t)
            else:
                marks.append(f"yes ({t})" if t in self.planted else f"no ({t})")
        return tally(marks) if marks else "-"

    def peer_cells(self):
        over, top = [self.name, ", ".join(self.planted) or "-"], [self.name, ", ".join(self.planted) or "-"]
        over.append(spread(self.plain, secs) or "-")
        over.append(spread([v for v in self.plain_venv if v is not None], secs) or "n/a: no peers' venv")
        over.append(self.pass_cell("cpu", True))
        top.append(self.top_cell(self.perfscan_top()))
        for peer in PEERS:
            runs = self.peers.get(peer, [])
            secs_ = [r[0] for r in runs]
            rs = self.ratios(secs_, self.plain if peer == "cprofile" else self.plain_venv)
            failed = [r[2] for r in runs if r[0] is None]
            notes = [r[2] for r in runs if r[0] is not None and r[2]]
            if rs:
                cell = spread(rs, ratio)
                if failed:
                    cell += f"; {len(failed)}/{len(runs)} rounds failed: {tally(failed)}"
                if notes:
                    cell += f" (tests: {tally(notes)})"
            else:
                cell = f"{PEER_TITLES[peer]}: {tally(failed)}" if failed else "not run"
            over.append(cell)
            ok_runs = [r for r in runs if r[0] is not None]
            if ok_runs:
                t = self.top_cell([r[1] if r[1] is not None or not r[2].startswith("unreadable") else f"n/a: {r[2]}"
                                   for r in ok_runs])
            else:
                t = f"{PEER_TITLES[peer]}: {tally(failed)}" if failed else "not run"
            top.append(t)
        return over, top


# --------------------------------------------------------------------------- the async pass on a big tree

ASYNC_TEMPLATE = '''"""Generated module {i}: async code with planted patterns."""
import asyncio
import time

import requests_like  # unresolved on purpose: the pass must not import the code


async def fetch_{i}(session, ids):
    time.sleep(0.01)
    out = []
    for x in ids:
        out.append(await session.get(x))
    a = await session.get("a")
    b = await session.get("b")
    c = await session.get("c")
    return out, a, b, c


async def fan_out_{i}(session, ids):
    return await asyncio.gather(*[fetch_{i}(session, [x]) for x in ids])


def helper_{i}(values):
    return sorted(v * 2 for v in values)
'''

PLAIN_TEMPLATE = '''"""Generated module {i}: plain code."""


def compute_{i}(values):
    total = 0
    for v in values:
        total += v * {i}
    return total


class Thing{i}:
    def __init__(self, n):
        self.n = n

    def scaled(self, k):
        return self.n * k
'''


def make_async_tree(root, files, async_every=5):
    """`files` small .py files in one package of sub-packages; every async_every-th module async."""
    (root / "pyproject.toml").write_text('[project]\nname = "synthasync"\nversion = "0.1.0"\n', "utf-8")
    pkg = root / "synthasync"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("", "utf-8")
    written, per_dir, d = 1, 100, 0
    while written < files:
        sub = pkg / f"part{d:03d}"
        sub.mkdir()
        (sub / "__init__.py").write_text("", "utf-8")
        written += 1
        for k in range(per_dir - 1):
            if written >= files:
                break
            i = written
            tpl = ASYNC_TEMPLATE if i % async_every == 0 else PLAIN_TEMPLATE
            (sub / f"mod{k:03d}.py").write_text(tpl.format(i=i), "utf-8")
            written += 1
        d += 1
    return written


def bench_async_tree(ctx, rounds, files):
    root = ctx.work / "async-tree"
    root.mkdir()
    n = make_async_tree(root, files)
    log(f"async tree: {n} files generated")
    walls, pass_s, other, nfind = [], [], [], []
    for i in range(1, rounds + 1):
        argv = [ctx.host_python, "-m", "perfscan", root, "--passes", "async", "--runner", shlex.join(ctx.runner), "--quiet"]
        c = run_child(argv, root, ctx.perfscan_env, ctx.work / "logs" / "async-tree", f"scan-{i}", ctx.timeout)
        report = root / ".codeflash" / "scan-report.json"
        if c.rc not in (0, 1) or not report.exists():
            other.append(f"scan failed: {c.why()}")
            continue
        data = json.loads(report.read_text("utf-8"))
        report.unlink()
        walls.append(c.seconds)
        p = (data.get("passes") or {}).get("async") or {}
        if p.get("status") == "ok":
            pass_s.append(float(p.get("seconds") or 0))
            nfind.append(str(sum(1 for f in data.get("findings", []) if f.get("domain") == "async")))
        elif p.get("status") == "skipped":
            other.append(f"n/a: {p.get('error') or 'skipped'}")
        else:
            other.append(f"{p.get('status')}: {p.get('error')}")
        log(f"async tree round {i}: scan {c.seconds:.1f} s, async pass {p.get('status')} {p.get('seconds')}")
    async_files = sum(1 for k in range(1, n) if k % 5 == 0)
    row = [f"{n:,} files ({async_files:,} with async code)", spread(walls, secs) or tally(other),
           spread(pass_s, secs) or (tally(other) if other else "n/a"),
           tally(nfind) if nfind else "-"]
    if pass_s and other:
        row[2] += f"; {len(other)}/{rounds} rounds {tally(other)}"
    return row


# --------------------------------------------------------------------------- main

class Context:
    pass


def parse_args(argv):
    p = argparse.ArgumentParser(description="perfscan benchmarks: scan cost, pass overheads, accuracy, peers.")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--projects", help="comma-separated corpus projects (default: all five)")
    p.add_argument("--quick", action="store_true", help=f"{QUICK_PROJECT}, one round, no peers, small async tree (for CI)")
    p.add_argument("--no-peers", action="store_true", help="skip pyinstrument, Scalene, py-spy and cProfile")
    p.add_argument("--runner", help="the project's python (command prefix) for the tests and perfscan's --runner (default: this python)")
    p.add_argument("--corpus", help="corpus folder (default: $PERFSCAN_CORPUS or <repo>/../shared/corpus)")
    p.add_argument("--async-files", type=int, help="files in the generated async tree (default 10000; 1000 with --quick; 0 skips it)")
    p.add_argument("--timeout", type=float, default=600.0, help="timeout of each child process in seconds (default 600)")
    p.add_argument("--peers-venv", default=str(BENCH_DIR / ".venv-peers"), help="venv for the peers (default bench/.venv-peers)")
    p.add_argument("--out", default=str(BENCH_DIR / "last-run.md"), help="Markdown output (default bench/last-run.md)")
    p.add_argument("--keep", action="store_true", help="keep the temp folder (copies, logs, reports) and print its path")
    a = p.parse_args(argv)
    if a.quick:
        a.rounds, a.no_peers = 1, True
        a.projects = a.projects or QUICK_PROJECT
        if a.async_files is None:
            a.async_files = 1000
    if a.async_files is None:
        a.async_files = 10000
    if a.rounds < 1:
        p.error("--rounds must be at least 1")
    return a


def runner_info(runner, work):
    code = "import sys, platform; print(sys.executable); print(platform.python_version())"
    c = run_child([*runner, "-c", code], work, dict(os.environ), work / "logs", "runner-info", 120)
    lines = c.text("out").strip().splitlines()
    if not c.ok or len(lines) < 2:
        die(f"the runner {shlex.join(runner)} does not run python ({c.why()}); pass --runner")
    c2 = run_child([*runner, "-c", "import pytest"], work, dict(os.environ), work / "logs", "runner-pytest", 120)
    if not c2.ok:
        die(f"the runner {shlex.join(runner)} cannot import pytest; install it there or pass --runner")
    return lines[0], lines[1]


def git_rev():
    try:
        out = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=30, stdin=subprocess.DEVNULL)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    corpus = Path(args.corpus or os.environ.get("PERFSCAN_CORPUS") or (REPO.parent / "shared" / "corpus")).resolve()
    if not (corpus / "score.py").exists():
        die(f"no corpus at {corpus} (score.py missing); pass --corpus or set PERFSCAN_CORPUS")
    names = [n.strip() for n in (args.projects or ",".join(DEFAULT_PROJECTS)).split(",") if n.strip()]
    for n in names:
        if not (corpus / n / "EXPECTED.json").exists():
            die(f"{n} is not a corpus project (no {corpus / n / 'EXPECTED.json'})")

    work = Path(tempfile.mkdtemp(prefix="perfscan-bench-"))
    started = time.monotonic()
    try:
        ctx = Context()
        ctx.work, ctx.corpus, ctx.timeout = work, corpus, args.timeout
        ctx.runner = resolve_runner(args.runner)
        ctx.runner_python, ctx.runner_version = runner_info(ctx.runner, work)
        ctx.host_python = sys.executable
        ctx.env = base_env(work / "pycache")
        ctx.perfscan_env = dict(ctx.env)
        ctx.perfscan_env["PYTHONPATH"] = str(REPO / "src")  # this checkout's perfscan, whatever is installed
        ctx.score_mod = load_score_module(corpus)
        ctx.peers = None
        if not args.no_peers:
            ctx.peers = Peers(Path(args.peers_venv), ctx.runner_python, work, args.timeout)
            ctx.peers.prepare()
        load = os.getloadavg() if hasattr(os, "getloadavg") else None

        benches = [ProjectBench(n, corpus, work, ctx) for n in names]
        for b in benches:
            b.setup()
        for i in range(1, args.rounds + 1):
            log(f"round {i}/{args.rounds}")
            for b in benches:
                b.round(i)
        tree_row = bench_async_tree(ctx, args.rounds, args.async_files) if args.async_files > 0 else None
        elapsed = time.monotonic() - started
        md = render(args, ctx, benches, tree_row, load, elapsed)
    finally:
        for proc in list(_LIVE):
            _killpg(proc, signal.SIGKILL)
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(md)
    out = Path(args.out)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tmp.write_text(md + "\n", "utf-8")
    os.replace(tmp, out)
    log(f"written to {out}")
    return 0


def render(args, ctx, benches, tree_row, load, elapsed):
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"# perfscan benchmark, {now}", ""]
    lines.append(f"- machine: {os.cpu_count()} CPUs, {platform.platform()}, load average at start "
                 + (", ".join(f"{x:.2f}" for x in load) if load else "n/a"))
    lines.append(f"- Python: host {platform.python_version()} ({sys.executable}); runner {ctx.runner_version} "
                 f"({shlex.join(ctx.runner)})")
    lines.append(f"- perfscan {git_rev()}; rounds: {args.rounds} interleaved (plain, scan, peers, in each round); "
                 f"projects: {', '.join(b.name for b in benches)}; run took {elapsed / 60:.1f} min")
    if ctx.peers is not None:
        vers = ", ".join(f"{k} {v}" for k, v in sorted(ctx.peers.versions.items())) or "unknown"
        lines.append(f"- peers (venv {ctx.peers.venv}, from the runner's python): {vers}")
    lines.append("- cells: median (min-max) over the rounds; a ratio is per round against the plain run of the same round")
    lines += ["", "## Scan cost against the plain test run", ""]
    lines.append(md_table(["project", "plain tests", "scan", "scan / plain", "cpu pass / plain", "memory pass / plain",
                           "import pass", "async pass"], [b.scan_cells() for b in benches]))
    lines += ["", "## Accuracy against EXPECTED.json (score.py)", ""]
    lines.append(md_table(["project", "deployment", "expected met", "forbidden", "outside project",
                           "rank of each planted problem"], [b.accuracy_cells() for b in benches]))
    lines.append("")
    lines.append("Rank: the best rank of a finding matching the EXPECTED.json rule; `*`: a finding there, but with "
                 "another severity or pattern than expected; miss: no finding there; n/a: that pass did not run.")
    if ctx.peers is not None:
        over, top = zip(*[b.peer_cells() for b in benches])
        head = ["project", "planted"] + [PEER_TITLES[p] for p in ("perfscan",) + PEERS]
        lines += ["", "## Peers: overhead against the plain test run", ""]
        lines.append(md_table(["project", "planted", "plain (runner)", "plain (peers' venv)"] + head[2:], list(over)))
        lines += ["", "## Peers: is the top project function the planted one?", ""]
        lines.append(md_table(head, list(top)))
        lines.append("")
        lines.append("Top project function: the most time attributed to a project function (not tests, conftest, "
                     "pytest, stdlib or site-packages; comprehensions and lambdas fold into their function): "
                     "innermost project frame of each sample (pyinstrument, py-spy), Scalene's per-function CPU %, "
                     "cProfile's cumulative time minus the project functions it calls; perfscan: its top-ranked cpu "
                     "finding. Planted: the first cpu rule of EXPECTED.json.")
        lines.append("")
        lines.append("Overhead: perfscan's cpu pass and cProfile against the plain run in the runner; pyinstrument, "
                     "Scalene and py-spy run in the peers' venv (same interpreter, but its own pytest and no other "
                     "pytest plugins), so against the plain run in that venv, measured in the same round.")
    else:
        lines += ["", "Peers: not run (--no-peers or --quick)."]
    if tree_row:
        lines += ["", "## Async pass on a generated tree (`perfscan PATH --passes async`)", ""]
        lines.append(md_table(["tree", "whole scan", "async pass", "async findings"], [tree_row]))
    return "\n".join(lines)


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        for proc in list(_LIVE):
            _killpg(proc, signal.SIGKILL)
        sys.exit(130)
