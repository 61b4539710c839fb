#!/usr/bin/env python3
"""Mutation score of the modules that carry perfscan's promises, one group at a time.

usage: python bench/mutation_score.py [--group NAME[,NAME...]] [--min SCORE] [--survivors] [--keep]

Each group is a few modules (ranking, diff, the commands' exit codes, the report writers, the CPU
pattern modules, settings) and the focused tests that should kill their mutants. For each group a
copy of the checkout gets a [tool.mutmut] section naming them, `mutmut run` mutates every
function of those modules (an operator flipped, a constant changed, a call argument dropped...)
and runs the tests that cover it; then one line per module: killed / mutants and the score.
Mutants no in-process test reaches ("no tests": code only run in a subprocess, or not at all) count
as survivors. `--survivors` lists every surviving mutant with its diff.

Needs the dev extra (mutmut). A full pass takes 10-20 minutes on 2 shared cores; `--group ranking`
about a minute. Exit 1 when a module scores below --min (default 0: report only).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from mutations import checkout_files, make_copy  # noqa: E402

# group -> (modules to mutate, the focused tests that guard them)
GROUPS: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    "ranking": (
        ("src/perfscan/ranking.py",),
        ("tests/test_ranking.py", "tests/test_fail_on.py", "tests/test_command_line.py"),
    ),
    "diff": (
        ("src/perfscan/diff.py", "src/perfscan/commands/diff.py"),
        ("tests/test_diff.py", "tests/test_report_writers.py"),
    ),
    "commands": (
        (
            "src/perfscan/cli.py",
            "src/perfscan/commands/scan.py",
            "src/perfscan/commands/options.py",
            "src/perfscan/commands/explain.py",
            "src/perfscan/commands/exec_cmd.py",
        ),
        # test_fail_on scans in this process: its bound checks only (the rest repeat them)
        ("tests/test_command_line.py", "tests/test_fail_on.py::test_fail_on_with_findings_on_both_sides_of_the_bound"),
    ),
    "reports": (
        (
            "src/perfscan/report/sarif.py",
            "src/perfscan/report/json_report.py",
            "src/perfscan/report/markdown.py",
            "src/perfscan/report/summary.py",
            "src/perfscan/report/describe.py",
        ),
        (
            "tests/test_sarif.py",
            "tests/test_report_writers.py",
            "tests/test_markdown_report.py",
            "tests/test_catalog.py",
            "tests/test_saved_report.py",
        ),
    ),
    "patterns": (
        ("src/perfscan/passes/cpu/patterns/*.py",),
        ("tests/test_cpu_patterns.py", "tests/test_cpu_astkit.py", "tests/test_pattern_backing.py", "-m", "not slow"),
    ),
    # the two pattern modules that once scored lowest, alone (a few minutes instead of the group's 15)
    "astkit": (
        ("src/perfscan/passes/cpu/patterns/astkit.py", "src/perfscan/passes/cpu/patterns/string_concat.py"),
        ("tests/test_cpu_astkit.py", "tests/test_cpu_patterns.py", "-m", "not slow"),
    ),
    "settings": (
        ("src/perfscan/settings.py",),
        ("tests/test_settings.py", "tests/test_settings_values.py", "tests/test_command_line.py"),
    ),
}
KILLED = {"killed", "timeout", "segfault", "caught by type check"}


def mutmut_config(modules: Sequence[str], tests: Sequence[str]) -> str:
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["src/perfscan"]\n'
        f"only_mutate = {json.dumps(list(modules))}\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(list(tests))}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider"]\n'
        'also_copy = ["docs/", "bench/", "examples/"]\n'
    )


def without_mutmut_section(text: str) -> str:
    """pyproject.toml less its own [tool.mutmut] table (the group's replaces it)."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            skipping = line.strip() == "[tool.mutmut]"
        if not skipping:
            out.append(line)
    return "".join(out)


def statuses(copy: Path) -> Dict[str, List[Tuple[str, str]]]:
    """module file -> [(mutant name, status)] from mutmut's .meta files."""
    from mutmut.stats import status_by_exit_code

    out: Dict[str, List[Tuple[str, str]]] = {}
    root = copy / "mutants"
    for meta in sorted(root.rglob("*.py.meta")):
        rel = meta.relative_to(root).as_posix()[: -len(".meta")]
        data = json.loads(meta.read_text(encoding="utf-8"))
        out[rel] = [(k, status_by_exit_code[v]) for k, v in sorted(data.get("exit_code_by_key", {}).items())]
    return out


def run_group(name: str, files: Sequence[str], work: Path, timeout: float, survivors: bool) -> Dict[str, Counter]:
    modules, tests = GROUPS[name]
    copy = make_copy(files, work / name)
    pyproject = copy / "pyproject.toml"
    pyproject.write_text(without_mutmut_section(pyproject.read_text(encoding="utf-8")) + mutmut_config(modules, tests))
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    mutmut = Path(sys.executable).with_name("mutmut")
    start = time.monotonic()
    proc = subprocess.run(
        [str(mutmut), "run", "--max-children", "2"],
        cwd=str(copy),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    secs = time.monotonic() - start
    found = statuses(copy)
    if proc.returncode != 0 or not found:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise RuntimeError(f"mutmut failed (exit {proc.returncode}):\n{tail}")
    counts: Dict[str, Counter] = {}
    for module, rows in found.items():
        counts[module] = Counter(status for _, status in rows)
        if survivors:
            for key, status in rows:
                if status not in KILLED:
                    diff = subprocess.run(
                        [str(mutmut), "show", key], cwd=str(copy), env=env, capture_output=True, text=True, timeout=60
                    ).stdout
                    body = "\n".join(
                        ln for ln in diff.splitlines() if ln.startswith(("+", "-")) and ln[:3] not in ("+++", "---")
                    )
                    print(f"  {status}: {key}\n    " + body.replace("\n", "\n    "))
    total = sum(sum(c.values()) for c in counts.values())
    print(f"group {name}: {total} mutants in {secs:.0f} s ({total / max(secs, 1e-9):.1f}/s)", flush=True)
    return counts


def score(c: Counter) -> float:
    total = sum(c.values())
    return 100.0 * sum(n for s, n in c.items() if s in KILLED) / total if total else 100.0


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--group", help=f"comma-separated groups (default: all): {', '.join(GROUPS)}")
    p.add_argument("--min", type=float, default=0.0, help="fail when a module scores below this percentage")
    p.add_argument("--survivors", action="store_true", help="print every surviving mutant's diff")
    p.add_argument("--keep", action="store_true", help="keep the copies (mutmut browse works in them)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per group (default 3600)")
    ns = p.parse_args(argv)
    names = ns.group.split(",") if ns.group else list(GROUPS)
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        raise SystemExit(f"mutation_score.py: no group {', '.join(unknown)}; groups: {', '.join(GROUPS)}")
    files = checkout_files()
    work = Path(tempfile.mkdtemp(prefix="perfscan-mutmut-"))
    rows: List[Tuple[str, Counter]] = []
    failed = 0
    try:
        for name in names:
            try:
                found = sorted(run_group(name, files, work, ns.timeout, ns.survivors).items())
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"group {name}: {exc}")
                failed += 1
                continue
            table(found)
            rows += found
            if not ns.keep:
                shutil.rmtree(work / name, ignore_errors=True)
    finally:
        if ns.keep:
            print(f"copies kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if len(names) > 1:
        print("\nall groups:")
        table(rows)
    low = sum(1 for _, c in rows if score(c) < ns.min)
    return 1 if low or failed else 0


def table(rows: Sequence[Tuple[str, Counter]]) -> None:
    print(f"{'module':<48} {'killed':>7} {'mutants':>8} {'score':>7}  not killed")
    for module, c in rows:
        rest = ", ".join(f"{n} {s}" for s, n in sorted(c.items()) if s not in KILLED)
        killed = sum(n for s, n in c.items() if s in KILLED)
        print(f"{module:<48} {killed:>7} {sum(c.values()):>8} {score(c):>6.1f}%  {rest}", flush=True)
    everything = sum((c for _, c in rows), Counter())
    killed = sum(n for s, n in everything.items() if s in KILLED)
    print(f"{'total':<48} {killed:>7} {sum(everything.values()):>8} {score(everything):>6.1f}%", flush=True)


if __name__ == "__main__":
    sys.exit(main())
