#!/usr/bin/env python3
"""Break perfscan's promises on purpose, one at a time, and check the tests notice.

usage: python bench/mutations.py [--only ID[,ID...]] [--no-control] [--keep]

Each break below is a change a careless edit could make (or once made): `--fail-on` failing on any
finding, `perfscan diff` comparing shares, a SARIF location dropped, a pattern backed by nothing,
a severity bound moved, a scan touching the user's files, the corpus test excusing too much, and
smaller ones. For each, a copy of the checkout gets the change, the tests that should notice run
on the copy, and one line says `killed` (some test failed: the tests guard the promise) or
`SURVIVED` (they did not). Before the breaks, each selection of tests runs once on the unchanged
copy (the control): a selection that fails without a break proves nothing. Exit 1 when a break
survives or a control fails.

The copy is the checkout's files as git sees them (tracked and new, not ignored), so uncommitted
work is included; it runs with this interpreter and PYTHONPATH set to the copy's src/.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]

Edit = Tuple[str, str, str]  # (file, text to find exactly once, replacement)


@dataclass(frozen=True)
class Break:
    id: str
    promise: str  # the item it breaks
    what: str
    edits: Tuple[Edit, ...]
    tests: Tuple[str, ...]  # pytest arguments: files, node ids, -k / -m


FAIL_ON = "src/perfscan/commands/scan.py"
BREAKS: Tuple[Break, ...] = (
    Break(
        "1",
        "--fail-on",
        "`perfscan --fail-on` exits 1 on any finding, whatever its severity",
        (
            (
                FAIL_ON,
                "if settings.fail_on and any(at_or_above(r.severity, settings.fail_on) for r in result.findings):",
                "if settings.fail_on and result.findings:",
            ),
        ),
        ("tests/test_fail_on.py",),
    ),
    Break(
        "1b",
        "--fail-on",
        "`--fail-on` compares severities the wrong way round",
        (("src/perfscan/ranking.py", "<= SEVERITIES.index(threshold)", ">= SEVERITIES.index(threshold)"),),
        ("tests/test_fail_on.py",),
    ),
    Break(
        "2",
        "diff --fail-on",
        "`perfscan diff --fail-on`: the severity comparison reversed (<= to >=)",
        (
            (
                "src/perfscan/commands/diff.py",
                "SEVERITIES.index(c.severity) <= limit",
                "SEVERITIES.index(c.severity) >= limit",
            ),
        ),
        ("tests/test_diff.py",),
    ),
    Break(
        "3",
        "diff by seconds",
        "`perfscan diff` compares a CPU finding's share instead of its attributable seconds",
        (
            (
                "src/perfscan/diff.py",
                'return h.finding.domain == "cpu" and _attributable(b) is not None and _attributable(h) is not None',
                "return False",
            ),
        ),
        ("tests/test_diff.py",),
    ),
    Break(
        "4",
        "SARIF",
        "SARIF: a finding without a file gets a physical location with no file",
        (
            (
                "src/perfscan/report/sarif.py",
                'res["locations"] = [{"logicalLocations": [{"fullyQualifiedName": f.module or f.symbol, "kind": "module"}]}]',
                'res["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": f.file}}}]',
            ),
        ),
        ("tests/test_sarif.py",),
    ),
    Break(
        "4b",
        "SARIF",
        "SARIF: a finding without a file gets no location at all",
        (
            (
                "src/perfscan/report/sarif.py",
                'res["locations"] = [{"logicalLocations": [{"fullyQualifiedName": f.module or f.symbol, "kind": "module"}]}]',
                'res["locations"] = []',
            ),
        ),
        ("tests/test_sarif.py",),
    ),
    Break(
        "5",
        "pattern backing",
        "regex-in-loop is backed by the time of a file that cannot exist",
        (
            (
                "src/perfscan/passes/cpu/patterns/regex_in_loop.py",
                'python_function(("/re.py", "/re/__init__.py", "/sre_compile.py", "/re/_compiler.py"),',
                'python_function(("/no/such/file.py",),',
            ),
        ),
        ("tests/test_pattern_backing.py", "-m", "not slow"),
    ),
    Break(
        "5b",
        "pattern backing",
        "pop-front is backed by deque.pop's time instead of list.pop's",
        (
            (
                "src/perfscan/passes/cpu/patterns/pop_front.py",
                "builtin(f\"'{attr}' of 'list'\")",
                "builtin(f\"'{attr}' of 'deque'\")",
            ),
        ),
        ("tests/test_pattern_backing.py", "-m", "not slow"),
    ),
    Break(
        "6",
        "severity bounds",
        "the memory `critical` bound moved from 100 to 140 MiB",
        (("src/perfscan/models.py", '(100.0, "critical")', '(140.0, "critical")'),),
        ("tests/test_ranking.py",),
    ),
    Break(
        "6b",
        "severity bounds",
        "the CPU `high` bound moved down from 5% to 4%",
        (("src/perfscan/models.py", '(5.0, "high")', '(4.0, "high")'),),
        ("tests/test_ranking.py",),
    ),
    Break(
        "7",
        "untouched tree",
        "a scan deletes the user's .codeflash/setup.md (taken for one of its own stale outputs)",
        (
            (
                "src/perfscan/scan.py",
                "own = {name for p in PASSES for name in p.artifacts} | {f.file_name for f in EXTRA_FORMATS.values()}",
                'own = {name for p in PASSES for name in p.artifacts} | {f.file_name for f in EXTRA_FORMATS.values()} | {"setup.md"}',
            ),
        ),
        ("tests/test_untouched_tree.py",),
    ),
    Break(
        "7b",
        "untouched tree",
        "a scan changes the permissions of a project file",
        (
            (
                "src/perfscan/scan.py",
                "    _remove_stale_outputs(out_dir, result)\n",
                '    _remove_stale_outputs(out_dir, result)\n    os.chmod(result.project.root / "pyproject.toml", 0o600)\n',
            ),
        ),
        ("tests/test_untouched_tree.py",),
    ),
    Break(
        "7c",
        "untouched tree",
        "a scan writes a file into the folder perfscan was started in",
        (
            (
                "src/perfscan/scan.py",
                "    _remove_stale_outputs(out_dir, result)\n",
                '    _remove_stale_outputs(out_dir, result)\n    Path("perfscan.log").write_text("scanned", encoding="utf-8")\n',
            ),
        ),
        ("tests/test_untouched_tree.py",),
    ),
    Break(
        "8",
        "corpus excuse",
        "the scorer fails without printing a MISS line",
        (
            (
                "bench/score.py",
                "    result = score(expected, report)\n",
                "    return 1\n    result = score(expected, report)\n",
            ),
        ),
        ("tests/test_corpus_scans.py", "-k", "excuse or two_levels or scorer"),
    ),
    Break(
        "8b",
        "corpus excuse",
        "the corpus test's excuse ignores max_rank again (a planted function at rank 7 for at most 3)",
        (
            (
                "tests/test_corpus_scans.py",
                '        if rule.get("max_rank") and score_mod.rank_of(f) > rule["max_rank"]:\n            continue\n',
                "",
            ),
        ),
        ("tests/test_corpus_scans.py", "-k", "excuse or two_levels or scorer"),
    ),
    Break(
        "8c",
        "corpus excuse",
        "the corpus test's excuse stacks on a rule's own two levels again",
        (
            (
                "tests/test_corpus_scans.py",
                "    if len(wanted) != 1:\n        return False\n    (wanted,) = wanted\n",
                "",
            ),
            (
                "tests/test_corpus_scans.py",
                '            adjacent = {f["severity"], wanted} == {upper, lower}\n',
                '            adjacent = any({f["severity"], w} == {upper, lower} for w in wanted)\n',
            ),
        ),
        ("tests/test_corpus_scans.py", "-k", "excuse or two_levels or scorer"),
    ),
    Break(
        "8d",
        "corpus excuse",
        "the corpus test's CPU allowance is flat again, whatever the sample count",
        (
            (
                "tests/test_corpus_scans.py",
                "    n = cpu_samples(report)\n",
                "    return 1.5\n    n = cpu_samples(report)\n",
            ),
        ),
        ("tests/test_corpus_scans.py", "-k", "excuse or two_levels or scorer"),
    ),
    Break(
        "9",
        "smaller: xdist",
        "pytest-xdist is no longer turned off in profiled runs (-n 2 stays)",
        (("src/perfscan/probe/__main__.py", 'extra += ["-n", "0"]', "extra += []"),),
        ("tests/test_hostile.py", "-k", "neutralized"),
    ),
    Break(
        "9b",
        "smaller: benchmark",
        "pytest-benchmark's storage is no longer moved out of the project",
        (
            (
                "src/perfscan/probe/__main__.py",
                'extra += ["--benchmark-storage=file://" + os.path.join(os.path.abspath(state.out_dir), "benchmarks")]',
                "extra += []",
            ),
        ),
        ("tests/test_hostile.py", "-k", "neutralized"),
    ),
    Break(
        "9c",
        "smaller: SIGINT",
        "perfscan exits 130 at once, before any child runs (nothing to kill, nothing checked)",
        (
            (
                "src/perfscan/commands/scan.py",
                "        cli = cli_values(ns, extra)\n",
                "        raise KeyboardInterrupt\n",
            ),
        ),
        ("tests/test_hostile.py", "-k", "sigint"),
    ),
    Break(
        "9d",
        "smaller: import size",
        "import times reported at a third of what they are",
        (("src/perfscan/passes/imports/findings.py", "    value = round(ms, 1)\n", "    value = round(ms / 3, 1)\n"),),
        ("tests/test_import_pass.py", "-k", "geoip"),
    ),
    Break(
        "9e",
        "smaller: async confirmation",
        "the slow-callback records of the timing run never reach the async pass",
        (
            (
                "src/perfscan/scan.py",
                '    if not data or not data.get("records"):\n        return ()\n',
                "    return ()\n",
            ),
        ),
        ("tests/test_async_pass.py", "-k", "real_scan"),
    ),
    Break(
        "9f",
        "smaller: absolute paths",
        "a test names the corpus by an absolute path",
        (("tests/test_import_pass.py", 'BUSY = "', 'CORPUS_AT = "/work/perfscan/bench/corpus"\nBUSY = "'),),
        ("tests/test_suite_hygiene.py",),
    ),
    Break(
        "9g",
        "smaller: if-hidden assertions",
        "the HTML page highlights an expanded CPU finding's frames no more",
        (
            (
                "src/perfscan/report/html/assets/page.js",
                'flame.highlight = d === "cpu" ? q : null;',
                'flame.highlight = d === "import" ? q : null;',
            ),
        ),
        ("tests/test_html_report.py", "-k", "browser"),
    ),
)


def checkout_files() -> List[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=str(REPO),
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return [f for f in out.decode().split("\0") if f and (REPO / f).is_file()]


def make_copy(files: Sequence[str], dest: Path) -> Path:
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, target)
    return dest


def apply(copy: Path, edits: Sequence[Edit]) -> None:
    for rel, old, new in edits:
        path = copy / rel
        text = path.read_text(encoding="utf-8")
        count = text.count(old)
        if count != 1:
            raise SystemExit(f"mutations.py: {rel}: the text to break occurs {count} times, not once: {old!r}")
        path.write_text(text.replace(old, new), encoding="utf-8")


def run_tests(copy: Path, args: Sequence[str], timeout: float) -> Tuple[bool, List[str], float]:
    """(passed, failing test ids, seconds)."""
    env = dict(os.environ, PYTHONPATH=str(copy / "src"), PYTHONDONTWRITEBYTECODE="1")
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", *args],
            cwd=str(copy),
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return False, ["(timed out)"], time.monotonic() - start
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, re.M)
    if proc.returncode != 0 and not failed:
        failed = [f"(pytest exit {proc.returncode}: {proc.stdout.strip().splitlines()[-1:] or proc.stderr[-200:]})"]
    if proc.returncode == 5:
        failed = ["(no test selected)"]
    return proc.returncode == 0, failed, time.monotonic() - start


def uses_the_copy(copy: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(copy / "src"))
    where = subprocess.run(
        [sys.executable, "-c", "import perfscan; print(perfscan.__file__)"],
        env=env,
        cwd=str(copy),
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    if not where.startswith(str(copy)):
        raise SystemExit(f"mutations.py: the copy's tests would import perfscan from {where}, not the copy")


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", help="comma-separated break ids (default: all)")
    p.add_argument("--no-control", action="store_true", help="skip the runs on the unchanged copy")
    p.add_argument("--keep", action="store_true", help="keep the copies (printed) for a look")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per test run (default 900)")
    ns = p.parse_args(argv)
    chosen = [b for b in BREAKS if not ns.only or b.id in ns.only.split(",")]
    if not chosen:
        raise SystemExit(f"mutations.py: no break named {ns.only}; ids: {', '.join(b.id for b in BREAKS)}")
    files = checkout_files()
    work = Path(tempfile.mkdtemp(prefix="perfscan-mutations-"))
    bad = 0
    try:
        control = make_copy(files, work / "control")
        uses_the_copy(control)
        if not ns.no_control:
            for args in dict.fromkeys(b.tests for b in chosen):
                passed, failed, secs = run_tests(control, args, ns.timeout)
                print(
                    f"control  {' '.join(args)}: {'passes' if passed else 'FAILS ' + ', '.join(failed)} ({secs:.0f} s)"
                )
                bad += not passed
        results: Dict[str, Tuple[bool, List[str]]] = {}
        for b in chosen:
            copy = make_copy(files, work / f"break-{b.id}")
            apply(copy, b.edits)
            passed, failed, secs = run_tests(copy, b.tests, ns.timeout)
            results[b.id] = (passed, failed)
            verdict = "SURVIVED" if passed else "killed  "
            print(f"{b.id:<4} {verdict} [{b.promise}] {b.what} ({secs:.0f} s)")
            for test in failed[:3]:
                print(f"       by {test}")
            if len(failed) > 3:
                print(f"       and {len(failed) - 3} more")
            bad += passed
            if not ns.keep:
                shutil.rmtree(copy, ignore_errors=True)
        killed = sum(1 for passed, _ in results.values() if not passed)
        print(f"{killed}/{len(results)} breaks killed")
    finally:
        if ns.keep:
            print(f"copies kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
