"""bench: the Markdown of a run: cells (median and spread over rounds) and the whole page."""

from __future__ import annotations

import collections
import datetime
import os
import platform
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

from peers import PEER_TITLES, PEERS

REPO = Path(__file__).resolve().parent.parent


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


def git_rev():
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def render(args, ctx, benches, tree_row, load, elapsed):
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"# perfscan benchmark, {now}", ""]
    lines.append(
        f"- machine: {os.cpu_count()} CPUs, {platform.platform()}, load average at start "
        + (", ".join(f"{x:.2f}" for x in load) if load else "n/a")
    )
    lines.append(
        f"- Python: host {platform.python_version()} ({sys.executable}); runner {ctx.runner_version} "
        f"({shlex.join(ctx.runner)})"
    )
    lines.append(
        f"- perfscan {git_rev()}; rounds: {args.rounds} interleaved (plain, scan, peers, in each round); "
        f"projects: {', '.join(b.name for b in benches)}; run took {elapsed / 60:.1f} min"
    )
    if ctx.peers is not None:
        vers = ", ".join(f"{k} {v}" for k, v in sorted(ctx.peers.versions.items())) or "unknown"
        lines.append(f"- peers (venv {ctx.peers.venv}, from the runner's python): {vers}")
    lines.append(
        "- cells: median (min-max) over the rounds; a ratio is per round against the plain run of the same round"
    )
    lines += ["", "## Scan cost against the plain test run", ""]
    lines.append(
        md_table(
            [
                "project",
                "plain tests",
                "scan",
                "scan / plain",
                "cpu pass / plain",
                "memory pass / plain",
                "import pass",
                "async pass",
            ],
            [b.scan_cells() for b in benches],
        )
    )
    lines += ["", "## Accuracy against EXPECTED.json (score.py)", ""]
    lines.append(
        md_table(
            ["project", "deployment", "expected met", "forbidden", "outside project", "rank of each planted problem"],
            [b.accuracy_cells() for b in benches],
        )
    )
    lines.append("")
    lines.append(
        "Rank: the best rank of a finding matching the EXPECTED.json rule; `*`: a finding there, but with "
        "another severity or pattern than expected; miss: no finding there; n/a: that pass did not run."
    )
    if ctx.peers is not None:
        over, top = zip(*[b.peer_cells() for b in benches])
        head = ["project", "planted"] + [PEER_TITLES[p] for p in ("perfscan",) + PEERS]
        lines += ["", "## Peers: overhead against the plain test run", ""]
        lines.append(md_table(["project", "planted", "plain (runner)", "plain (peers' venv)"] + head[2:], list(over)))
        lines += ["", "## Peers: is the top project function the planted one?", ""]
        lines.append(md_table(head, list(top)))
        lines.append("")
        lines.append(
            "Top project function: the most time attributed to a project function (not tests, conftest, "
            "pytest, stdlib or site-packages; comprehensions and lambdas fold into their function): "
            "innermost project frame of each sample (pyinstrument, py-spy), Scalene's per-function CPU %, "
            "cProfile's cumulative time minus the project functions it calls; perfscan: its top-ranked cpu "
            "finding. Planted: the first cpu rule of EXPECTED.json."
        )
        lines.append("")
        lines.append(
            "Overhead: perfscan's cpu pass and cProfile against the plain run in the runner; pyinstrument, "
            "Scalene and py-spy run in the peers' venv (same interpreter, but its own pytest and no other "
            "pytest plugins), so against the plain run in that venv, measured in the same round."
        )
    else:
        lines += ["", "Peers: not run (--no-peers or --quick)."]
    if tree_row:
        lines += ["", "## Async pass on a generated tree (`perfscan PATH --passes async`)", ""]
        lines.append(md_table(["tree", "whole scan", "async pass", "async findings"], [tree_row]))
    return "\n".join(lines)
