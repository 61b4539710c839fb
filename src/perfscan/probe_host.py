"""The host's side of the probe: install it in the private temp folder, run it, read its JSON.

The JSON shape is the contract of `perfscan/probe/contract.py`, whose SCHEMA_VERSION is the one
both sides check (the host reads only files of that version).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from perfscan import children
from perfscan.models import Driver, ImportedCopy, Project, RunFacts, RunnerEnv
from perfscan.passes import PassContext, child_env
from perfscan.probe.contract import PROGRESS, SCHEMA_VERSION
from perfscan.workers import worker_dirs

PROBE_SOURCE = Path(__file__).resolve().parent / "probe"


def failed_in(outcomes: Mapping[str, Mapping[str, Any]]) -> Tuple[Tuple[str, str], ...]:
    """(nodeid, the line that says why) of every test that failed or errored."""
    return tuple(
        (nid, str(t.get("message", "")))
        for nid, t in outcomes.items()
        if isinstance(t, Mapping) and t.get("outcome") in ("failed", "error")
    )


def summarize_failed(failed: Sequence[Tuple[str, str]], limit: int = 5) -> str:
    """Failed tests as one line for a report: `nodeid (message); ...`."""
    return "; ".join(f"{nid} ({msg})" if msg else nid for nid, msg in failed[:limit])


def install_probe(workdir: Path) -> Path:
    """Copy the probe package (every module in it) as `perfscan_probe` into workdir/probe;
    return the folder for PYTHONPATH."""
    dest_root = workdir / "probe"
    dest = dest_root / "perfscan_probe"
    if not dest.exists():
        shutil.copytree(PROBE_SOURCE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest_root


def package_paths(project: Project) -> Dict[str, str]:
    """Each top-level project package (or module) and where it lives in the scanned source: the
    probe maps a copy imported from elsewhere (site-packages, another checkout) to these."""
    out: Dict[str, str] = {}
    for name in project.packages:
        for src in project.source_roots:
            for cand in (src / name, src / f"{name}.py"):
                if name not in out and (cand.is_dir() or cand.is_file()):
                    out[name] = str(cand)
    return out


COMMAND_FAILED = "the command failed"  # how a failing `perfscan exec` command's note begins (scan.py looks for it)


@dataclass(frozen=True)
class ProbeRun:
    child: children.ChildResult
    out_dir: Path

    def read(self, name: str) -> Optional[Dict[str, Any]]:
        """A JSON file the probe wrote, or None when absent, unreadable or of another schema."""
        path = self.out_dir / name
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
            return None
        return data

    def outcomes(self) -> Dict[str, Dict[str, Any]]:
        """nodeid -> outcome entry: outcomes.json, written at the end (or on the host's SIGTERM);
        for a run that died before, the timing run's per-test progress lines."""
        data = self.read("outcomes.json")
        if data is not None:
            return {k: v for k, v in (data.get("tests") or {}).items() if isinstance(v, dict)}
        out: Dict[str, Dict[str, Any]] = {}
        try:
            lines = (self.out_dir / PROGRESS).read_text(encoding="utf-8").splitlines()
        except OSError:
            return out
        for line in lines:
            try:
                nodeid, entry = json.loads(line)
            except (ValueError, TypeError):
                continue  # the last line of a killed process may be cut
            if isinstance(nodeid, str) and isinstance(entry, dict):
                out[nodeid] = entry
        return out

    def finished(self) -> bool:
        """pytest ran to its end (its session finished), whatever its exit code."""
        data = self.read("outcomes.json")
        return data is not None and data.get("exitstatus") is not None

    def failed_tests(self) -> Tuple[Tuple[str, str], ...]:
        return failed_in(self.outcomes())

    def failed_summary(self, limit: int = 5) -> str:
        """The failed tests as one line for a report: `nodeid (message); ...`."""
        return summarize_failed(self.failed_tests(), limit)

    def running(self) -> Optional[Tuple[str, float]]:
        """The test a SIGTERM (a timeout) interrupted, and how long it had been running; None
        when none was, or the process died before it could say."""
        data = self.read("outcomes.json") or {}
        running = data.get("running")
        if isinstance(running, dict) and isinstance(running.get("nodeid"), str):
            try:
                return running["nodeid"], float(running.get("seconds") or 0.0)
            except (TypeError, ValueError):
                return None
        return None

    def command_failure(self) -> Optional[str]:
        """For `perfscan exec`: why the command failed (its exception or exit code), or None."""
        for nid, msg in self.failed_tests():
            if nid == "exec":
                return msg or "failed"
        return None

    def failure_note(self, exec_mode: bool, what: str, kept: str) -> Optional[str]:
        """The pass note on failures in this run: the command of `perfscan exec`, or the tests
        (`what`: "profiled", "measured"); `kept` says what of their figures the pass still uses."""
        if exec_mode:
            why = self.command_failure()
            return f"{COMMAND_FAILED} ({why}); {kept}" if why else None
        failed = self.failed_tests()
        return f"{len(failed)} {what} test(s) failed; {kept}: {self.failed_summary()}" if failed else None

    def facts(self) -> RunFacts:
        """The finished tests' outcomes and what the run saw of the project's code."""
        outcomes = {
            nid: (str(t.get("outcome", "")), str(t.get("message", "")))
            for nid, t in self.outcomes().items()
            if t.get("done") or nid == "exec"
        }
        # across xdist workers, the workers imported the project, not the controller
        pieces = self.worker_runs() or [self]
        found = [i for i in ((p.read("outcomes.json") or {}).get("imports") for p in pieces) if isinstance(i, dict)]
        if not found:
            return RunFacts(outcomes)
        copies: Dict[str, ImportedCopy] = {}
        for imports in found:
            for row in imports.get("modules") or ():
                if isinstance(row, list) and len(row) == 4 and isinstance(row[0], str) and isinstance(row[1], str):
                    project = row[2] if isinstance(row[2], str) else None
                    same = row[3] if isinstance(row[3], bool) else None
                    copies.setdefault(row[0], ImportedCopy(row[0], row[1], project, same))
        loaded = [int(i["project_modules"]) for i in found if isinstance(i.get("project_modules"), int)]
        return RunFacts(outcomes, tuple(copies.values()), max(loaded) if loaded else None)

    def worker_runs(self) -> List[ProbeRun]:
        """The run's pytest-xdist workers, each as a run of its own folder (none for a run in one process)."""
        return [ProbeRun(self.child, d) for d in worker_dirs(self.out_dir)]

    def neutralized(self) -> Tuple[str, ...]:
        data = self.read("outcomes.json") or {}
        return tuple(str(x) for x in data.get("neutralized") or ())


def driver_args(driver: Driver) -> List[str]:
    """The probe's arguments that choose the test runner (docs/design.md "Test runner")."""
    argv = ["--driver", driver.name]
    if driver.name == "django" and driver.django_settings:
        argv += ["--django-settings", driver.django_settings]
    return argv


def run_probe(
    mode: str,
    *,
    runner: Sequence[str],
    root: Path,
    workdir: Path,
    probe_path: Path,
    pytest_args: Sequence[str],
    timeout: float,
    options: Optional[Dict[str, str]] = None,
    name: Optional[str] = None,
    exec_command: Sequence[str] = (),
    source_roots: Sequence[Path] = (),
    driver: Driver,
    packages: Optional[Mapping[str, str]] = None,
    runner_env: RunnerEnv = (),
) -> ProbeRun:
    """Run the probe in `mode` over pytest_args (the arguments of `driver`, the test runner), or
    over exec_command (a script, module or console script). `runner_env`: what the runner would
    change in its python's environment, where `runner` is that python (Project.launch_env)."""
    name = name or mode
    out_dir = workdir / "runs" / name
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = list(runner) + ["-m", "perfscan_probe", mode, "--out", str(out_dir)]
    options = dict(options or {})
    if packages:
        options["packages"] = json.dumps(dict(packages))
    for key, value in options.items():
        argv += ["--opt", f"{key}={value}"]
    if exec_command:
        argv += ["--exec", "--"] + list(exec_command)
    else:
        argv += driver_args(driver) + ["--"] + list(pytest_args)
    env = child_env(workdir, probe_path, runner_env)
    if exec_command and source_roots:
        # `python -m pkg.cli` finds the project's code on the same path its tests use (src/ layout)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(probe_path)] + [str(p) for p in source_roots] + env["PYTHONPATH"].split(os.pathsep)[1:]
        )
    child = children.run(argv, cwd=root, env=env, timeout=timeout, log_dir=out_dir, name="child")
    return ProbeRun(child, out_dir)


def run_target(
    mode: str, ctx: PassContext, options: Optional[Dict[str, str]] = None, name: Optional[str] = None
) -> ProbeRun:
    """Run the probe over the scan's target: the chosen tests, or the command of `perfscan exec`."""
    return run_probe(
        mode,
        runner=ctx.project.command(),
        runner_env=ctx.project.launch_env,
        root=ctx.project.root,
        workdir=ctx.workdir,
        probe_path=ctx.probe_path,
        pytest_args=list(ctx.target.pytest_argv()),
        timeout=ctx.timeout,
        options=options,
        name=name,
        exec_command=ctx.target.exec_command,
        source_roots=ctx.project.source_roots,
        driver=ctx.target.driver,
        packages=package_paths(ctx.project),
    )
