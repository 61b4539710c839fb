#!/usr/bin/env python3
"""bench: what a whole scan costs on open-source projects' own suites, pass by pass.

    python bench/oss_ratios.py [NAME ...] [--rounds N] [--budget S] [--src DIR] [--out FILE]

For each project of bench/oss.py (set up on first use: a pinned sdist and a venv each), in
interleaved rounds (plain, scan, plain, scan...), it measures the plain run of the project's
tests as its own CI runs them (oss.py's `plain_run`), and perfscan's whole scan with the
project's venv python as `--runner` (`python -m perfscan PROJECT --runner VENV_PYTHON --quiet`,
the perfscan of this checkout's `src/`, or `--src DIR`'s), and prints one table: plain seconds,
scan seconds, scan/plain, and each pass's seconds, status and ratio to the plain run. Cells are
medians over the rounds. The project's tree is left as oss.py made it (the report goes to a
private temp folder). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from oss import DEFAULT_ROOT, PROJECTS, plain_run, setup, venv_python

HERE = Path(__file__).resolve().parent
PASSES = ("cpu", "memory", "import", "async")


def scan(name: str, root: Path, src: Path, budget: float, timeout: float) -> dict:
    """One whole scan of the project; its seconds and the report's passes."""
    dest = setup(name, root)
    p = PROJECTS[name]
    with tempfile.TemporaryDirectory(prefix="perfscan-oss-scan-") as out:
        argv = [
            sys.executable,
            "-m",
            "perfscan",
            str(dest),
            "--runner",
            str(venv_python(dest)),
            "--out",
            out,
            "--budget",
            str(budget),
            "--quiet",
        ]
        if p.unittest:
            argv += ["--test-runner", "unittest", "--", "discover", p.pytest_args[0]]
        else:
            argv += ["--", *p.pytest_args]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PERFSCAN_"))}
        env["PYTHONPATH"] = str(src)
        t0 = time.perf_counter()
        done = subprocess.run(
            argv,
            cwd=dest,
            env=env,
            timeout=timeout,
            capture_output=True,
            text=True,
            start_new_session=True,
        )
        seconds = time.perf_counter() - t0
        report = Path(out) / "scan-report.json"
        if not report.exists():
            tail = (done.stderr or done.stdout or "").strip().splitlines()[-1:] or ["no output"]
            return {"seconds": seconds, "error": f"exit {done.returncode}: {tail[0][:160]}", "passes": {}}
        data = json.loads(report.read_text("utf-8"))
    passes = {
        d: {"seconds": float(v.get("seconds") or 0.0), "status": v.get("status", "?")}
        for d, v in (data.get("passes") or {}).items()
    }
    return {"seconds": seconds, "error": "", "passes": passes, "target": (data.get("target") or {}).get("note", "")}


def median(values: list) -> float:
    return statistics.median(values) if values else float("nan")


def row(name: str, plains: list, scans: list) -> str:
    plain = median(plains)
    ok = [s for s in scans if not s["error"]]
    if not ok:
        return f"| {name} | {plain:.1f} | failed: {scans[0]['error'] if scans else '?'} |" + " |" * (2 + len(PASSES))
    secs = median([s["seconds"] for s in ok])
    cells = [name, f"{plain:.1f}", f"{secs:.1f}", f"{secs / plain:.2f}x"]
    for d in PASSES:
        vals = [s["passes"][d]["seconds"] for s in ok if d in s["passes"]]
        statuses = sorted({s["passes"][d]["status"] for s in ok if d in s["passes"]})
        if not vals:
            cells.append("n/a")
            continue
        v = median(vals)
        cells.append(f"{v:.1f} s {'/'.join(statuses)} ({v / plain:.2f}x)")
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"projects (default: all of {', '.join(PROJECTS)})")
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds (default 1)")
    ap.add_argument("--budget", type=float, default=300.0, help="the scan's --budget (default 300, perfscan's)")
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="where projects and venvs are (oss.py's)")
    ap.add_argument("--src", type=Path, default=HERE.parent / "src", help="perfscan's src folder to scan with")
    ap.add_argument("--timeout", type=float, default=1200.0, help="per scan (default 1200 s)")
    ap.add_argument("--out", type=Path, help="also write the table to this file")
    args = ap.parse_args()
    names = args.names or list(PROJECTS)
    header = "| project | plain s | scan s | scan/plain | " + " | ".join(PASSES) + " |"
    lines = [header, "|" + "---|" * (4 + len(PASSES))]
    for name in names:
        plains, scans = [], []
        for i in range(args.rounds):
            plains.append(plain_run(name, args.root))
            scans.append(scan(name, args.root, args.src.resolve(), args.budget, args.timeout))
            s = scans[-1]
            print(
                f"[oss] {name} round {i}: plain {plains[-1]:.1f} s, scan {s['seconds']:.1f} s"
                + (f" ({s['error']})" if s["error"] else f"; target: {s.get('target', '')}"),
                file=sys.stderr,
                flush=True,
            )
        lines.append(row(name, plains, scans))
    table = "\n".join(lines)
    print(table)
    if args.out is not None:
        args.out.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
