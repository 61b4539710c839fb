"""Reports only format: Markdown (the router parses it), JSON (its twin), the summary line."""

from __future__ import annotations

import os
from pathlib import Path

from perfscan.safetext import clean_text


def write_atomic(path: Path, text: str) -> None:
    """Write, then rename: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(clean_text(text))
    os.replace(tmp, path)
