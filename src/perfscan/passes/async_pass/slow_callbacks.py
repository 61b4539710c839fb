"""asyncio debug mode's slow-callback records: parsing their text, and matching them to findings.

With debug mode on, asyncio logs each callback or task step that held the loop longer than
`slow_callback_duration`, e.g.
    Executing <Task finished name='Task-1' coro=<notify() done, defined at /p/orders/notify.py:23>
    result=15> took 0.051 seconds
    Executing <Handle cb() at /p/app.py:12 created at /usr/lib/...> took 0.120 seconds
A record is (file, line, seconds, text): file relative to the project root when inside it
(posix), else absolute; line of the coroutine or callback (its definition or where it was).
A task's record names the task's outermost coroutine only (the one passed to asyncio.run or
create_task; with an in-process ASGI transport, the test): the stacks the probe sampled while
the callback ran (`records.py`) say which code blocked.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any, List, Optional, Tuple

from perfscan.sources import relative_posix

Record = Tuple[str, Optional[int], float, str]
MAX_LINE = 65536  # a task repr is far shorter; longer lines are not asyncio's

_TOOK = re.compile(r"> took (\d+(?:\.\d+)?(?:[eE][-+]?\d+)?) seconds")
_CORO = re.compile(r"coro=<([^\s()<>]+)\(\)[^<>]*? at ([^\n<>]+?\.pyw?):(\d+)>")
_AT = re.compile(r"(?<!created) at ([^\n<>]+?\.pyw?):(\d+)")


def parse_slow_callback_lines(text: str, root: Any) -> Tuple[Record, ...]:
    """Every "Executing <...> took N seconds" record in `text` that names a source file."""
    if not isinstance(text, str):
        return ()
    out: List[Record] = []
    for line in text.splitlines():
        found = parse_record(line, root)
        if found is not None and found[0] is not None:
            out.append((found[0], found[1], found[2], found[3]))
    return tuple(out)


def parse_record(line: str, root: Any) -> Optional[Tuple[Optional[str], Optional[int], float, str]]:
    """(file or None, line, seconds, text) of one "Executing <...> took N seconds" line, else None."""
    # Plain searches first: linear time even on junk.
    if len(line) > MAX_LINE or "Executing <" not in line or " seconds" not in line:
        return None
    start = line.find("Executing <")
    took = _TOOK.search(line, start)
    if took is None:
        return None
    what, seconds = line[start + len("Executing ") : took.start() + 1], took.group(1)
    try:
        secs = float(seconds)
    except ValueError:
        return None
    if "coro=<" in what:  # a task: only its coroutine's place counts, not its done-callbacks
        found = _CORO.search(what)
        where = (found.group(2), found.group(3)) if found else None
    else:  # a handle: the callback's place, not where the handle was created
        found = _AT.search(what)
        where = (found.group(1), found.group(2)) if found else None
    text = line[start : took.end()]
    if where is None:
        return None, None, secs, text
    return normalize_file(where[0].strip(), root), int(where[1]), secs, text


def normalize_file(file: str, root: Any) -> str:
    """Root-relative posix path when the file is inside the root, else the path as given."""
    if root is None or not os.path.isabs(file):
        return PurePosixPath(file.replace("\\", "/")).as_posix()
    for base in (Path(root), Path(os.path.realpath(root))):
        rel = relative_posix(Path(file), base)
        if rel is None:
            rel = relative_posix(Path(os.path.realpath(file)), base)
        if rel is not None:
            return rel
    return PurePosixPath(file.replace("\\", "/")).as_posix()
