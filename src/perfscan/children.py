"""Running child processes: no shell, own process group, a timeout, output to files.

A child's output never goes to a pipe (a test printing 100 MB must not deadlock the scan).
Live children are tracked so an interrupt can kill their whole groups. A thread may run its
children as a named crew (`crew`), which another thread can call off (`call_off`): its live
children are killed and the ones it starts after that never start (the memory pass started
beside the timing run, when the timing run says the guess of the tests was wrong).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Mapping, Optional, Sequence, Set, Tuple

_LIVE: Dict[subprocess.Popen[bytes], Optional[str]] = {}  # live child -> its crew (None: none)
_ADOPTED: Dict[int, Optional[str]] = {}  # a child's fork in a group of its own (its leader's pid) -> its crew
_CALLED_OFF: Set[str] = set()
_LOCK = threading.Lock()
_THREAD = threading.local()  # .crew: the crew of the children this thread starts
CALLED_OFF = "called off before it started"


@dataclass(frozen=True)
class ChildResult:
    argv: Tuple[str, ...]
    returncode: Optional[int]  # None when it could not start
    timed_out: bool
    seconds: float
    stdout_path: Path
    stderr_path: Path
    start_error: str = ""

    @property
    def signal_name(self) -> str:
        if self.returncode is not None and self.returncode < 0:
            try:
                return signal.Signals(-self.returncode).name
            except ValueError:
                return f"signal {-self.returncode}"
        return ""

    def describe_exit(self) -> str:
        if self.start_error:
            return self.start_error
        if self.timed_out:
            return f"timed out after {self.seconds:.0f} s; its process group was killed"
        if self.signal_name:
            return f"killed by {self.signal_name}"
        return f"exited with code {self.returncode}"

    def tail(self, lines: int = 8, which: str = "both") -> str:
        """The last lines of the child's output, for a report."""
        chunks = []
        paths = {"stdout": [self.stdout_path], "stderr": [self.stderr_path]}.get(
            which, [self.stdout_path, self.stderr_path]
        )
        for path in paths:
            try:
                with open(path, "rb") as fh:
                    fh.seek(0, os.SEEK_END)
                    size = fh.tell()
                    fh.seek(max(0, size - 8192))
                    text = fh.read().decode("utf-8", "replace")
            except OSError:
                continue
            got = [ln for ln in text.splitlines() if ln.strip()][-lines:]
            chunks.extend(got)
        return "\n".join(chunks[-lines:])


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def kill_all() -> None:
    """Kill every live child's process group (on interrupt)."""
    for proc in list(_LIVE):
        _kill_group(proc)
    for pid in list(_ADOPTED):
        kill_adopted(pid)


def adopt(pid: int) -> None:
    """Track a process group a child left behind on purpose (its leader's pid; the memory
    screen's spare, probe/spare.py): killed with the crew of the thread that adopts it, or at the end."""
    with _LOCK:
        _ADOPTED[pid] = getattr(_THREAD, "crew", None)
        team = _ADOPTED[pid]
    if team in _CALLED_OFF:
        kill_adopted(pid)


def release(pid: int) -> None:
    """Forget an adopted group that is gone."""
    _ADOPTED.pop(pid, None)


def kill_adopted(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass
    _ADOPTED.pop(pid, None)


@contextmanager
def crew(name: str) -> Iterator[None]:
    """The children this thread starts inside the block belong to the crew `name`."""
    before = getattr(_THREAD, "crew", None)
    _THREAD.crew = name
    try:
        yield
    finally:
        _THREAD.crew = before


def call_off(name: str) -> None:
    """Kill the crew's live children; its later children do not start (their result says so)."""
    with _LOCK:
        _CALLED_OFF.add(name)
        procs = [proc for proc, team in list(_LIVE.items()) if team == name]  # a copy: others pop theirs
        adopted = [pid for pid, team in list(_ADOPTED.items()) if team == name]
    for proc in procs:
        _kill_group(proc)
    for pid in adopted:
        kill_adopted(pid)


def called_off(name: str) -> bool:
    return name in _CALLED_OFF


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    log_dir: Path,
    name: str,
    grace: float = 3.0,
) -> ChildResult:
    """Run argv to completion or timeout; stdout and stderr go to files in log_dir."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path = log_dir / f"{name}.stdout"
    err_path = log_dir / f"{name}.stderr"
    start = time.monotonic()
    team = getattr(_THREAD, "crew", None)
    with open(out_path, "wb") as out, open(err_path, "wb") as err, _LOCK:
        if team in _CALLED_OFF:
            return ChildResult(tuple(argv), None, False, 0.0, out_path, err_path, start_error=CALLED_OFF)
        try:
            proc = subprocess.Popen(
                list(argv),
                cwd=str(cwd),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        except OSError as exc:
            return ChildResult(
                tuple(argv),
                None,
                False,
                0.0,
                out_path,
                err_path,
                start_error=f"cannot start {argv[0]}: {exc.strerror or exc}",
            )
        _LIVE[proc] = team
    timed_out = False
    try:
        proc.wait(timeout=max(timeout, 0.1))
    except subprocess.TimeoutExpired:
        timed_out = True
        # SIGTERM first: the probe saves what it measured so far, then SIGKILL for the rest
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=grace)
        except (ProcessLookupError, PermissionError, OSError, subprocess.TimeoutExpired):
            pass
        _kill_group(proc)
        proc.wait()
    finally:
        # grandchildren left behind in the group go too
        _kill_group(proc)
        _LIVE.pop(proc, None)
    return ChildResult(tuple(argv), proc.returncode, timed_out, time.monotonic() - start, out_path, err_path)
