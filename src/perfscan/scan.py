"""The orchestrator: settings -> project -> deployment -> target -> passes -> ranking -> report.

It owns the private temp folder, the budget, and the order of the passes; passes do not call
each other (the async pass gets the CPU pass's set of functions that ran as an argument).
"""
from __future__ import annotations

import datetime
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from perfscan import __version__, children
from perfscan.deployment import detect_deployment
from perfscan.errors import UsageError
from perfscan.models import PassResult, ScanResult, Settings, Target
from perfscan.passes import PassContext, PassInputs, child_env
from perfscan.probe_host import COMMAND_FAILED, install_probe
from perfscan.progress import Progress
from perfscan.project import discover_project
from perfscan.ranking import rank
from perfscan.report import write_atomic
from perfscan.report.json_report import render_json
from perfscan.report.markdown import render_markdown
from perfscan import treewatch
from perfscan.sources import skipped_sources
from perfscan.target import select_target

# Share of the remaining budget each pass may use; unused time flows to the passes after it.
WEIGHTS = {"cpu": 3.0, "memory": 4.0, "import": 1.5, "async": 0.5}
TIMING_SLICE = 0.2  # share of the budget the timing run of the whole suite may take
RESERVE = 3.0  # seconds kept for ranking and reports


def output_dir(settings: Settings) -> Path:
    out = settings.out or (settings.path / ".codeflash")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".perfscan-write-test.{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write the report to {out} ({exc.strerror or exc}); pass --out with a writable folder") from None
    return out


def _skipped(domain: str, why: str) -> PassResult:
    return PassResult(domain, "skipped", 0.0, why)


def _has_async_code(project) -> bool:
    from perfscan.sources import iter_project_files
    for path in iter_project_files(project.root):
        try:
            if b"async def" in path.read_bytes()[:2_000_000]:
                return True
        except OSError:
            continue
    return False


def run_scan(settings: Settings, progress: Progress) -> Tuple[ScanResult, Path]:
    started = time.monotonic()
    settings = _resolve_root(settings)
    out_dir = output_dir(settings)
    before = treewatch.snapshot(settings.path, skip=out_dir)
    workdir = Path(tempfile.mkdtemp(prefix="perfscan-"))
    try:
        probe_path = install_probe(workdir)
        env = child_env(workdir, probe_path)
        project = discover_project(settings, env)
        progress.say(f"project {project.name}: packages {', '.join(project.packages) or '(none)'}; "
                     f"python {project.python_version} via {' '.join(project.runner)} ({project.runner_origin})")
        deployment = detect_deployment(project)
        progress.say(f"deployment: {deployment.model} ({'; '.join(deployment.evidence[:2])})")

        def remaining() -> float:
            return settings.budget - (time.monotonic() - started)

        needs_tests = any(p in settings.passes for p in ("cpu", "memory"))
        asyncio_debug = "async" in settings.passes and _has_async_code(project)
        timing = None
        if needs_tests:
            progress.begin("collecting and timing the tests" if not settings.exec_command else "preparing the command")
            # the plain timing run doubles as the asyncio debug-mode run: no profiler inflates the slow callbacks
            options = {"asyncio_debug": "1"} if asyncio_debug else {}
            if "cpu" in settings.passes:
                options["count"] = "1"  # exact call counts from the plain run (see probe/plugin.py WallClock)
            target, timing = select_target(settings, project, workdir, probe_path, max(5.0, remaining() * TIMING_SLICE), options)
        else:
            target = Target((), tuple(settings.pytest_args), "none", 0, "no test pass selected")
        progress.end(f"target: {target.note or target.mode}") if needs_tests else progress.say(f"target: {target.note or target.mode}")

        results: Dict[str, PassResult] = {}
        order = [d for d in ("cpu", "memory", "import", "async") if d in settings.passes]

        def timeout_for(domain: str) -> float:
            left = [d for d in order if d not in results]
            weight = sum(WEIGHTS[d] for d in left) or 1.0
            return max(1.0, (remaining() - RESERVE) * WEIGHTS[domain] / weight)

        ran = frozenset()
        slow_callbacks = _slow_callbacks(timing, project.root)
        for domain in order:
            if remaining() <= RESERVE:
                results[domain] = PassResult(domain, "timed-out", 0.0, "the scan's budget was spent before this pass could start")
                continue
            inputs = PassInputs(plain_counts=_plain_run_counts(timing, target), slow_callbacks=slow_callbacks, ran=ran)
            ctx = PassContext(settings, project, deployment, target, workdir, probe_path, out_dir, timeout_for(domain), inputs)
            progress.begin(f"{domain} pass (up to {ctx.timeout:.0f} s)")
            t0 = time.monotonic()
            try:
                if domain == "cpu":
                    if target.mode == "none":
                        res = _skipped("cpu", f"no tests to profile: {target.note}")
                    else:
                        from perfscan.passes.cpu import run_cpu_pass
                        res = run_cpu_pass(ctx)
                        ran = res.data.ran if res.status == "ok" else frozenset()
                elif domain == "memory":
                    if target.mode == "none":
                        res = _skipped("memory", f"no tests to profile: {target.note}")
                    else:
                        res = _run_memory(ctx)
                elif domain == "import":
                    res = _run_optional("perfscan.passes.imports", "run_import_pass", ctx)
                else:
                    res = _run_async(ctx)
            except UsageError:
                raise
            except Exception as exc:  # a pass that breaks is recorded; the others go on
                res = PassResult(domain, "failed", time.monotonic() - t0, f"internal error in the {domain} pass: {type(exc).__name__}: {exc}")
            results[domain] = res
            progress.end(f"{domain} pass: {res.status} in {res.seconds:.1f} s, {len(res.findings)} finding(s)"
                         + (f" ({res.error[:120]})" if res.error else ""))

        findings = [f for r in results.values() for f in r.findings]
        ranked = rank(findings, deployment.model, settings.startup, settings.thresholds)
        warnings: List[str] = list(settings.notes) + list(project.notes)
        warnings += [f"source file {note}" for note in skipped_sources(project.root)]
        if timing is not None:
            failed = timing.failed_tests()
            if failed:
                warnings.append(f"{len(failed)} test(s) failed in the plain run: "
                                + timing.failed_summary())
        if settings.exec_command:
            # a command that fails at once leaves empty passes that would read "nothing found": say so up front
            failures = [n for r in results.values() for n in r.notes if n.startswith(COMMAND_FAILED)]
            if failures:
                warnings.append(failures[0].split(";")[0] + "; the figures below cover only what ran before that")
        after = treewatch.snapshot(settings.path, skip=out_dir)
        changed = treewatch.changes(before, after)
        if changed:
            # perfscan writes only to its output folder; who else wrote is a guess, so say what is known
            who = ("by the project's own code or another process" if needs_tests or settings.exec_command
                   else "by another process (no test or command of the project ran)")
            warnings.append(f"files changed in the project during the scan, {who}, not by perfscan: "
                            + ", ".join(changed[:10]) + (f" and {len(changed) - 10} more" if len(changed) > 10 else ""))
        result = ScanResult(settings=settings, project=project, deployment=deployment, target=target, passes=results,
                            findings=ranked, date=datetime.date.today().isoformat(), tool_version=__version__,
                            warnings=tuple(warnings))
        # both rendered before either is written: the router never finds one twin without the other
        json_text, markdown_text = render_json(result), render_markdown(result)
        write_atomic(out_dir / "scan-report.json", json_text)
        write_atomic(out_dir / "scan-report.md", markdown_text)
        for fmt in settings.formats:
            _write_extra_format(fmt, result, out_dir)
        _remove_stale_outputs(out_dir, result)
        return result, out_dir
    finally:
        children.kill_all()
        shutil.rmtree(workdir, ignore_errors=True)


def _plain_run_counts(timing, target: Target) -> Optional[dict]:
    """Call counts of the plain run, when it ran exactly the tests the CPU pass profiles."""
    if timing is None or target.mode != "all" or timing.child.timed_out or timing.child.returncode not in (0, 1):
        return None
    data = timing.read("time.json") or {}
    calls = data.get("calls")
    return calls if isinstance(calls, dict) and calls.get("functions") is not None else None


def _slow_callbacks(timing, root: Path) -> tuple:
    """asyncio's slow-callback records from the timing run, when debug mode was on."""
    data = timing.read("asyncio.json") if timing is not None else None
    if not data or not data.get("records"):
        return ()
    try:
        from perfscan.passes.async_pass.slow_callbacks import parse_slow_callback_lines
    except ImportError:
        return ()
    return parse_slow_callback_lines("\n".join(str(r) for r in data["records"]), root)


def _resolve_root(settings: Settings) -> Settings:
    from dataclasses import replace
    return replace(settings, path=Path(os.path.abspath(settings.path)))


def _run_optional(module: str, func: str, ctx: PassContext) -> PassResult:
    import importlib
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return _skipped(module.rsplit(".", 1)[-1], "not run: not implemented yet")
    return getattr(mod, func)(ctx)


def _run_memory(ctx: PassContext) -> PassResult:
    try:
        from perfscan.passes.memory import run_memory_pass
    except ImportError:
        return _skipped("memory", "not run: not implemented yet")
    return run_memory_pass(ctx)


def _run_async(ctx: PassContext) -> PassResult:
    try:
        from perfscan.passes.async_pass import run_async_pass
    except ImportError:
        return _skipped("async", "not run: not implemented yet")
    return run_async_pass(ctx)


# what earlier scans may have left in the output folder (the two report twins are always rewritten)
_OWN_OUTPUTS = ("cpu.pstats", "cpu.collapsed", "imports.json", "scan-report.sarif", "scan-report.html")


def _remove_stale_outputs(out_dir: Path, result: ScanResult) -> None:
    """A file of an earlier scan beside this report would be read as this scan's (a profile of
    other tests, an HTML page of other findings): remove perfscan's own files this scan did not write."""
    written = {a.path.name for p in result.passes.values() for a in p.artifacts}
    written |= {f"scan-report.{fmt}" for fmt in result.settings.formats}
    for name in _OWN_OUTPUTS:
        if name not in written:
            try:
                (out_dir / name).unlink()
            except OSError:
                pass


def _write_extra_format(fmt: str, result: ScanResult, out_dir: Path) -> None:
    if fmt == "sarif":
        try:
            from perfscan.report.sarif import render_sarif
        except ImportError:
            return
        write_atomic(out_dir / "scan-report.sarif", render_sarif(result))
    elif fmt == "html":
        try:
            from perfscan.report.html import render_html
        except ImportError:
            return
        write_atomic(out_dir / "scan-report.html", render_html(result))
