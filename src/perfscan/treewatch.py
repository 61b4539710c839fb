"""A stat walk of the project before and after the scan: what changed that perfscan did not write."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple

SKIP = {".git", ".hg", ".venv", "venv", "node_modules", ".tox", ".nox"}
MAX_ENTRIES = 200_000

State = Dict[str, Tuple[int, int]]


def snapshot(root: Path, skip: Optional[Path] = None) -> State:
    """path -> (size, mtime_ns) for every file under root, never following symlinked folders."""
    out: State = {}
    skip_real = os.path.realpath(skip) if skip else None
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if d not in SKIP and os.path.realpath(os.path.join(dirpath, d)) != skip_real]
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            out[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns)
            if len(out) >= MAX_ENTRIES:
                return out
    return out


def changes(before: State, after: State) -> List[str]:
    created = sorted(set(after) - set(before))
    deleted = sorted(set(before) - set(after))
    modified = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    lines = [f"created {p}" for p in created] + [f"modified {p}" for p in modified] + [f"deleted {p}" for p in deleted]
    return lines
