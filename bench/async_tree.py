"""bench: the async pass alone over a generated tree of many small files."""

from __future__ import annotations

import json
import shlex

from children import log, run_child
from report import secs, spread, tally

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
        argv = [
            ctx.host_python,
            "-m",
            "perfscan",
            root,
            "--passes",
            "async",
            "--runner",
            shlex.join(ctx.runner),
            "--quiet",
        ]
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
    row = [
        f"{n:,} files ({async_files:,} with async code)",
        spread(walls, secs) or tally(other),
        spread(pass_s, secs) or (tally(other) if other else "n/a"),
        tally(nfind) if nfind else "-",
    ]
    if pass_s and other:
        row[2] += f"; {len(other)}/{rounds} rounds {tally(other)}"
    return row
