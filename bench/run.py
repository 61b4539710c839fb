#!/usr/bin/env python3
"""perfscan benchmark harness: scan cost, pass overheads, accuracy on the corpus, and the peers.

    python bench/run.py [--rounds N] [--projects a,b] [--quick] [--no-peers] [--runner PY]
                        [--corpus DIR] [--async-files N] [--timeout S] [--keep]

For each project of the corpus (bench/corpus, or --corpus DIR / $PERFSCAN_CORPUS for an external
one with the same EXPECTED.json format), copied to a private temp folder (the corpus is never
written), in interleaved rounds (every variant once per round, A B A B), it measures:

- the plain test run (`<runner> -m pytest -q -p no:cacheprovider`), wall time;
- perfscan's whole scan (`python -m perfscan COPY --runner PY --quiet`) as a ratio to it, and
  each pass's own seconds from `.codeflash/scan-report.json` (cpu and memory as ratios to the
  plain run, import and async in seconds; a pass that did not run shows "n/a: <why>");
- accuracy: bench/score.py against the project's EXPECTED.json, and the rank of each planted problem;
- the peers on the same tests (pyinstrument, Scalene, py-spy from a private cached venv, and
  plain cProfile): overhead ratio and whether their top project function is the planted one;
- the async pass over a generated tree of many small files.

Results: Markdown on stdout and in bench/last-run.md. Progress goes to stderr. Figures are
median (min-max) over the rounds; nothing asserts a wall-clock limit. Standard library only.
The work is split by job: children.py (child processes), project_bench.py (one project's
rounds), peers.py (the other profilers), async_tree.py (the generated tree), report.py (Markdown).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from async_tree import bench_async_tree
from children import die, kill_all, log, run_child
from peers import Peers
from project_bench import ProjectBench
from report import render

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
CORPUS = BENCH_DIR / "corpus"


# --------------------------------------------------------------------------- set-up


def resolve_runner(spec):
    """A runner is a command prefix; a python is appended unless it ends in one (as perfscan does)."""
    argv = shlex.split(spec) if spec else [sys.executable]
    if not argv:
        argv = [sys.executable]
    if os.sep in argv[0] and not os.path.isabs(argv[0]):
        argv[0] = os.path.abspath(argv[0])  # the children run in other folders
    if not re.match(r"python[0-9.]*(\.exe)?$", Path(argv[-1]).name):
        argv.append("python")
    return argv


def base_env(pycache):
    """The environment of the measured runs: no inherited pytest or perfscan settings, no
    PYTHONPATH, bytecode in a private prefix (the copy stays clean; all runs share the cache)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "PERFSCAN_"))
        and k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE")
    }
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env["NO_COLOR"] = "1"
    env["PYTHONHASHSEED"] = "0"
    return env


def copy_project(src, dst):
    shutil.copytree(
        src, dst, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".codeflash", ".pytest_cache")
    )
    for root, dirs, files in os.walk(dst):  # the shared corpus has no write bits
        for name in dirs + files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | 0o200)
    os.chmod(dst, os.stat(dst).st_mode | 0o200)


def corpus_projects(corpus):
    """The projects of a corpus: its folders with an EXPECTED.json, by name."""
    return sorted(p.name for p in corpus.iterdir() if (p / "EXPECTED.json").is_file()) if corpus.is_dir() else []


def planted(project):
    return len(json.loads((project / "EXPECTED.json").read_text("utf-8")).get("expect") or [])


class Context:
    pass


def parse_args(argv):
    p = argparse.ArgumentParser(description="perfscan benchmarks: scan cost, pass overheads, accuracy, peers.")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--projects", help="comma-separated corpus projects (default: all of them)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="the project with the most planted problems, one round, no peers, small async tree (for CI)",
    )
    p.add_argument("--no-peers", action="store_true", help="skip pyinstrument, Scalene, py-spy and cProfile")
    p.add_argument(
        "--runner",
        help="the project's python (command prefix) for the tests and perfscan's --runner (default: this python)",
    )
    p.add_argument("--corpus", help="corpus folder (default: $PERFSCAN_CORPUS, else bench/corpus)")
    p.add_argument(
        "--async-files",
        type=int,
        help="files in the generated async tree (default 10000; 1000 with --quick; 0 skips it)",
    )
    p.add_argument(
        "--timeout", type=float, default=600.0, help="timeout of each child process in seconds (default 600)"
    )
    p.add_argument(
        "--peers-venv", default=str(BENCH_DIR / ".venv-peers"), help="venv for the peers (default bench/.venv-peers)"
    )
    p.add_argument("--out", default=str(BENCH_DIR / "last-run.md"), help="Markdown output (default bench/last-run.md)")
    p.add_argument(
        "--keep", action="store_true", help="keep the temp folder (copies, logs, reports) and print its path"
    )
    a = p.parse_args(argv)
    if a.quick:
        a.rounds, a.no_peers = 1, True
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


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    corpus = Path(args.corpus or os.environ.get("PERFSCAN_CORPUS") or CORPUS).resolve()
    available = corpus_projects(corpus)
    if not available:
        die(f"no corpus at {corpus} (no folder with an EXPECTED.json); pass --corpus or set PERFSCAN_CORPUS")
    if args.projects:
        names = [n.strip() for n in args.projects.split(",") if n.strip()]
    elif args.quick:
        names = [max(available, key=lambda n: (planted(corpus / n), n))]
    else:
        names = available
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
        kill_all()
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


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        kill_all()
        sys.exit(130)
