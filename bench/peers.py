"""bench: the peers (pyinstrument, Scalene, py-spy, cProfile) on a corpus project's tests: their
private venv, one run each, and which project function their profile puts on top."""

from __future__ import annotations

import collections
import json
import os
import re
from pathlib import Path

from children import log, run_child

REPO = Path(__file__).resolve().parent.parent
PEERS = ("pyinstrument", "scalene", "py-spy", "cprofile")
PEER_TITLES = {
    "perfscan": "perfscan cpu pass",
    "pyinstrument": "pyinstrument",
    "scalene": "Scalene (--cpu-only)",
    "py-spy": "py-spy",
    "cprofile": "cProfile",
}
PEER_PACKAGES = ("pyinstrument", "scalene", "py-spy", "pytest")
PYTEST_ARGS = ("-q", "-p", "no:cacheprovider")


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
        have = {
            "pyinstrument": self.tool("pyinstrument").exists(),
            "scalene": self.tool("scalene").exists(),
            "py-spy": self.tool("py-spy").exists(),
        }
        if self.python.exists():
            c = run_child(
                [self.python, "-c", "import pytest"],
                self.work,
                dict(os.environ),
                self.work / "logs",
                "peers-pytest",
                60,
            )
            have["pytest"] = c.ok
        else:
            have["pytest"] = False
        return have

    def prepare(self):
        logs = self.work / "logs"
        if not self.python.exists():
            log(f"creating the peers' venv {self.venv}")
            c = run_child(
                [self.runner_python, "-m", "venv", self.venv], REPO, dict(os.environ), logs, "peers-venv", self.timeout
            )
            if not c.ok:
                for p in ("pyinstrument", "scalene", "py-spy"):
                    self.missing[p] = f"no venv: {c.why()}"
                return
        have = self._have()
        if not all(have.values()):
            log(f"installing {', '.join(PEER_PACKAGES)} into {self.venv} (cached for later runs)")
            c = run_child(
                [self.python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *PEER_PACKAGES],
                REPO,
                dict(os.environ),
                logs,
                "peers-pip",
                self.timeout,
            )
            have = self._have()
            if not c.ok:
                # one package failing stops pip altogether: try each alone so the others still run
                for pkg in PEER_PACKAGES:
                    if not have[pkg]:
                        run_child(
                            [self.python, "-m", "pip", "install", "-q", "--disable-pip-version-check", pkg],
                            REPO,
                            dict(os.environ),
                            logs,
                            f"peers-pip-{pkg}",
                            self.timeout,
                        )
                have = self._have()
            reason = c.why() if not c.ok else "installed, but its command is missing"
            for p in ("pyinstrument", "scalene", "py-spy"):
                if not have[p]:
                    self.missing[p] = f"cannot install: {reason}"
            if not have["pytest"]:
                self.missing_pytest = True
                for p in ("pyinstrument", "scalene", "py-spy"):
                    self.missing.setdefault(p, f"pytest does not install in the peers' venv: {reason}")
        code = (
            "import json, importlib.metadata as m\nout = {}\n"
            "for n in ('pyinstrument', 'scalene', 'py-spy', 'pytest'):\n"
            "    try: out[n] = m.version(n)\n    except Exception: pass\nprint(json.dumps(out))"
        )
        c = run_child([self.python, "-c", code], REPO, dict(os.environ), logs, "peers-versions", 60)
        try:
            self.versions = json.loads(c.text("out").strip().splitlines()[-1])
        except (ValueError, IndexError):
            self.versions = {}


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
            if not (
                set(parts[:-1]) & {"tests", "test", "site-packages", "dist-packages", ".venv", "venv", ".codeflash"}
                or name == "conftest.py"
                or name.startswith("test_")
                or name.endswith("_test.py")
                or not name.endswith(".py")
            ):
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
                times[key] += sum(
                    float(fn.get(k) or 0) for k in ("n_cpu_percent_python", "n_cpu_percent_c", "n_sys_percent")
                )
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
    """Attributable time, as perfscan ranks: cumulative time minus the cumulative time of the project
    functions it calls directly, other than itself."""
    key_of = {}
    for f, line, n, _tt, _ct, _callers in rows:
        key_of[(f, line, n)] = filt.function(f, n)
    att = collections.Counter()
    for f, line, n, _tt, ct, _callers in rows:
        k = key_of[(f, line, n)]
        if k:
            att[k] += ct
    for f, line, n, _tt, _ct, callers in rows:
        callee = key_of[(f, line, n)]
        if not callee:
            continue
        for cf, cl, cn, cct in callers:
            caller = key_of.get((cf, cl, cn))
            if caller and caller != callee:
                att[caller] -= cct
    return top_of(att)


def run_peer(ctx, name, copy, logs, peer, i):
    """One peer on the tests of the project copy: (seconds or None, top project function or None, note)."""
    peers = ctx.peers
    if peer in peers.missing:
        return (None, None, peers.missing[peer])
    filt = ProjectFilter(copy)
    ext = {"pyinstrument": ".json", "scalene": ".json", "py-spy": ".speedscope.json", "cprofile": ".prof"}[peer]
    out = ctx.work / "peer-out" / name / f"{peer}-{i}{ext}"
    out.parent.mkdir(parents=True, exist_ok=True)
    pytest_m = ["-m", "pytest", *PYTEST_ARGS]
    if peer == "pyinstrument":
        argv = [peers.tool("pyinstrument"), "-r", "json", "-o", out, *pytest_m]
    elif peer == "scalene":
        argv = [
            peers.tool("scalene"),
            "run",
            "--cpu-only",
            "--program-path",
            copy,
            "-o",
            out,
            "-m",
            "pytest",
            "---",
            *PYTEST_ARGS,
        ]
    elif peer == "py-spy":
        argv = [peers.tool("py-spy"), "record", "-o", out, "--format", "speedscope", "--", peers.python, *pytest_m]
    else:
        argv = [*ctx.runner, "-m", "cProfile", "-o", out, *pytest_m]
    c = run_child(argv, copy, ctx.env, logs, f"{peer}-{i}", ctx.timeout)
    note = "" if c.ok else c.why()
    if c.timed_out or c.start_error or not out.exists() or out.stat().st_size == 0:
        reason = note or "wrote no profile"
        if peer == "py-spy" and re.search(r"ptrace|permission|operation not permitted|EPERM", c.text(), re.I):
            reason = f"ptrace not permitted ({c.last_line()[:120]})"
        elif peer == "scalene" and "did not run for long enough" in c.text("out") + c.text():
            reason = "Scalene: the program did not run long enough to profile"
        log(f"{name} round {i}: {peer} failed: {reason}")
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
            d = run_child([*ctx.runner, "-c", PSTATS_DUMP, out, dump], copy, ctx.env, logs, f"pstats-{i}", 120)
            if not d.ok:
                raise ValueError(f"pstats: {d.why()}")
            top = top_cprofile(json.loads(dump.read_text("utf-8")), filt)
    except (ValueError, KeyError, OSError) as exc:
        return (c.seconds, None, f"unreadable profile: {exc}")
    log(f"{name} round {i}: {peer} {c.seconds:.1f} s, top {top}" + (f" ({note})" if note else ""))
    return (c.seconds, top, note)
