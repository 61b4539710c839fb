"""The import-time pass (docs/design.md "The passes", Import time).

Runs `<runner> -X importtime -c "import <module>"` for the project's top-level packages and the
deployment's entry modules (importing a package does not import its submodules), a warm-up run
and then at least 3 measured runs each (a package another target imports first: in that
target's runs), with bytecode cached in a private PYTHONPYCACHEPREFIX;
keeps each module's minimum; blames slow modules on the project statement that imported them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import List, Set, Tuple

from perfscan.models import Artifact, PassResult
from perfscan.passes import PassContext, import_env
from perfscan.passes.imports.classify import PROJECT, Classifier
from perfscan.passes.imports.findings import all_findings, first_seen
from perfscan.passes.imports.importtime import ImportNode
from perfscan.passes.imports.measure import MIN_RUNS, Measurement, measure_imports
from perfscan.passes.imports.output import section_data, tree_document, write_json_atomic
from perfscan.sources import SKIP_DIRS

__all__ = ["run_import_pass"]

ARTIFACT_NAME = "imports.json"
_RESERVE = 0.1  # share of the budget kept for the analysis after the runs


def _targets(ctx: PassContext) -> Tuple[List[str], List[str]]:
    """Modules to import, in order (packages, then entry modules), and notes on skipped names."""
    out: List[str] = []
    notes: List[str] = []
    for name in list(ctx.project.packages) + list(ctx.deployment.entry_modules):
        if not name or not all(part.isidentifier() for part in name.split(".")):
            notes.append(f"skipped {name!r}: not an importable module name")
        elif name not in out:
            out.append(name)
    return out, notes


def _pycache_dirs(roots: List[Path]) -> Set[str]:
    found: Set[str] = set()
    seen: Set[str] = set()
    for root in roots:
        for folder, dirs, _ in os.walk(root):
            real = os.path.realpath(folder)
            if real in seen:
                dirs[:] = []
                continue
            seen.add(real)
            if "__pycache__" in dirs:
                found.add(os.path.join(folder, "__pycache__"))
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
    return found


def _bytecode_note(measurement: Measurement, classifier: Classifier, prefix: Path) -> str:
    """Check that the warm-up really cached the project's bytecode in the private prefix;
    without it every run recompiles and the figures measure the compiler."""
    raw = [
        Path(f)
        for m, f in measurement.module_files.items()
        if f and f.endswith(".py") and classifier.kind(m) == PROJECT
    ]
    if not raw:
        return ""
    for source in raw:
        mirror = prefix / str(source.parent).lstrip(os.sep)
        if any(mirror.glob(f"{source.stem}.*.pyc")):
            return ""
    return (
        f"bytecode was not cached in {prefix} (PYTHONDONTWRITEBYTECODE or a read-only prefix?): "
        f"the figures include compiling the project's modules"
    )


def _load_note(waited_share: float) -> str:
    """Import times are wall-clock: on a machine busier than its CPUs they are inflated. Where the
    runs measured their wait for a core (measure.run_share), that wait is already taken out."""
    if waited_share >= 0.05:
        return (
            f"the import runs waited for a core (up to {waited_share:.0%} of a run's import time, a busy "
            f"machine): each run's times are scaled to the time it ran"
        )
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return ""
    cpus = os.cpu_count() or 1
    if load <= cpus or waited_share > 0:
        return ""
    return (
        f"the machine was busy (load average {load:.1f} on {cpus} CPUs): import times are wall-clock "
        f"and come out higher than on an idle machine"
    )


def run_import_pass(ctx: PassContext) -> PassResult:
    start = time.monotonic()
    project = ctx.project
    targets, notes = _targets(ctx)
    if not targets:
        return PassResult(
            "import",
            "skipped",
            time.monotonic() - start,
            notes=tuple(
                notes
                + [
                    "no importable package or entry module found in the project "
                    f"(looked under {', '.join(str(p) for p in project.source_roots)})"
                ]
            ),
        )
    env = import_env(ctx.workdir, project)
    watched = [p for p in project.source_roots if p.is_dir()]
    before = _pycache_dirs(watched)
    measurement = measure_imports(project, targets, env, ctx.workdir / "imports", ctx.timeout * (1 - _RESERVE))
    if measurement.start_error:
        return PassResult(
            "import", "failed", time.monotonic() - start, error=measurement.start_error, notes=tuple(notes)
        )

    classifier = Classifier(project, measurement.interpreter, measurement.module_files, ctx.settings.exclude)
    trees: List[Tuple[str, int, ImportNode]] = []
    for t in measurement.targets:
        tree = t.merged()  # None when the target's import was never measured
        if tree is not None:
            trees.append((t.module, t.runs, tree))
    seen = first_seen(trees)
    errors = [f"{t.module}: {t.error}" for t in measurement.targets if t.error]
    notes += [f"import of {e}" for e in errors] + measurement.notes
    runs = measurement.runs
    if trees:
        notes.insert(
            0,
            f"{runs} measured runs per module after a warm-up run, bytecode cached in a private "
            f"PYTHONPYCACHEPREFIX; each module's minimum self and cumulative time",
        )
        if runs < MIN_RUNS:
            notes.append(f"only {runs} measured run(s) fit in the time budget: the figures are less stable")
    if trees:
        notes += [
            n
            for n in (
                _load_note(measurement.waited_share),
                _bytecode_note(measurement, classifier, Path(env["PYTHONPYCACHEPREFIX"])),
            )
            if n
        ]
    written = sorted(_pycache_dirs(watched) - before)
    if written:
        notes.append("warning: __pycache__ appeared in the project during the import runs: " + ", ".join(written[:5]))

    findings = all_findings(seen, classifier, ctx.settings.thresholds.floor("import")) if seen else []
    artifacts: List[Artifact] = []
    if trees:
        path = ctx.out_dir / ARTIFACT_NAME
        try:
            write_json_atomic(path, tree_document(measurement, classifier))
            artifacts.append(Artifact(path, "import tree (JSON)", f"python -m json.tool {ARTIFACT_NAME}"))
        except OSError as exc:
            notes.append(f"could not write {path}: {exc.strerror or exc}")
    data = section_data(measurement, seen, classifier)

    if measurement.timed_out:
        status = "timed-out"
        error = (
            f"the import runs exceeded the pass's {ctx.timeout:.0f} s budget; "
            f"{'results are from ' + str(runs) + ' run(s)' if trees else 'nothing was measured'}"
        )
    elif not trees:
        status = "failed"
        error = "; ".join(errors) or "no module could be measured"
    else:
        status = "ok"
        error = "; ".join(errors)
    return PassResult(
        "import",
        status,
        time.monotonic() - start,
        error=error,
        findings=tuple(findings),
        artifacts=tuple(artifacts),
        notes=tuple(notes),
        data=data,
    )
