"""asyncio debug mode's slow-callback records: parsing them, and matching them to findings.

With debug mode on, asyncio logs each callback or task step that held the loop longer than
`slow_callback_duration`, e.g.
    Executing <Task finished name='Task-1' coro=<notify() done, defined at /p/orders/notify.py:23>
    result=15> took 0.051 seconds
    Executing <Handle cb() at /p/app.py:12 created at /usr/lib/...> took 0.120 seconds
A record is (file, line, seconds, text): file relative to the project root when inside it
(posix), else absolute; line of the coroutine or callback (its definition or where it was).
A task's record names the task's outermost coroutine only (the one passed to asyncio.run or
create_task), so a blocking call deeper down is confirmed only when its coroutine is that one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, List, Optional, Tuple

from perfscan.sources import relative_posix

Record = Tuple[str, Optional[int], float, str]
MAX_LINE = 65536  # a task repr is far shorter; longer lines are not asyncio's

_TOOK = re.compile(r"> took (\d+(?:\.\d+)?(?:[eE][-+]?\d+)?) seconds")
_CORO = re.compile(r"coro=<([^\s()<>]+)\(\)[^<>]*? at ([^\n<>]+?\.pyw?):(\d+)>")
_AT = re.compile(r"(?<!created) at ([^\n<>]+?\.pyw?):(\d+)")
_CORO_NAME = re.compile(r"coro=<([^\s()<>]+)\(|<(?:Timer)?Handle (?:when=\S+ )?([^\s()<>]+)\(")


def parse_slow_callback_lines(text: str, root: Any) -> Tuple[Record, ...]:
    """Every "Executing <...> took N seconds" record in `text` that names a source file."""
    if not isinstance(text, str):
        return ()
    out: List[Record] = []
    for line in text.splitlines():
        # Line by line, plain searches first: linear time even on junk.
        if len(line) > MAX_LINE or "Executing <" not in line or " seconds" not in line:
            continue
        start = line.find("Executing <")
        took = _TOOK.search(line, start)
        if took is None:
            continue
        what, seconds = line[start + len("Executing ") : took.start() + 1], took.group(1)
        try:
            secs = float(seconds)
        except ValueError:
            continue
        if "coro=<" in what:  # a task: only its coroutine's place counts, not its done-callbacks
            found = _CORO.search(what)
            where = (found.group(2), found.group(3)) if found else None
        else:  # a handle: the callback's place, not where the handle was created
            found = _AT.search(what)
            where = (found.group(1), found.group(2)) if found else None
        if where is None:
            continue
        out.append((normalize_file(where[0].strip(), root), int(where[1]), secs, line[start : took.end()]))
    return tuple(out)


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


def callback_name(text: str) -> Optional[str]:
    match = _CORO_NAME.search(text or "")
    if not match:
        return None
    return (match.group(1) or match.group(2) or "").rpartition(".")[2] or None


def matches(record: Record, file: str, first_line: int, end_line: int, symbol: str) -> bool:
    """Whether a record falls in a function (by line range; by name when it has no line)."""
    rec_file, line, _, text = record
    if rec_file != file:
        return False
    if line is None:
        return callback_name(text) == symbol
    return first_line <= line <= end_line


def valid_records(records: Iterable[Any], root: Any) -> List[Record]:
    """Records as the orchestrator gave them, normalized; malformed ones are dropped."""
    out: List[Record] = []
    for rec in records or ():
        try:
            file, line, secs, text = rec
            out.append(
                (normalize_file(str(file), root), int(line) if line is not None else None, float(secs), str(text))
            )
        except (TypeError, ValueError):
            continue
    return out
