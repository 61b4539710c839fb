"""bench: child processes with a timeout, in their own process group, output to files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

_LIVE = set()


def die(msg):
    """A usage or set-up error: one line on stderr, exit 2."""
    print(f"bench: {msg}", file=sys.stderr)
    raise SystemExit(2)


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


class Child:
    """The outcome of one child process; its output is in files."""

    def __init__(self, argv, rc, seconds, out, err, timed_out=False, start_error=""):
        self.argv, self.rc, self.seconds, self.out, self.err = argv, rc, seconds, out, err
        self.timed_out, self.start_error = timed_out, start_error

    @property
    def ok(self):
        return self.rc == 0 and not self.timed_out and not self.start_error

    def text(self, which="err"):
        try:
            return Path(self.err if which == "err" else self.out).read_text("utf-8", "replace")
        except OSError:
            return ""

    def last_line(self, which="err"):
        lines = [ln.strip() for ln in self.text(which).splitlines() if ln.strip()]
        return lines[-1] if lines else ""

    def why(self):
        """One line saying why the child did not succeed."""
        if self.start_error:
            return self.start_error
        if self.timed_out:
            return f"timed out after {self.seconds:.0f} s"
        tail = self.last_line("err") or self.last_line("out")
        code = f"killed by signal {-self.rc}" if self.rc is not None and self.rc < 0 else f"exit {self.rc}"
        return f"{code}: {tail[:160]}" if tail else code


def run_child(argv, cwd, env, logdir, name, timeout):
    """Run argv (a list, no shell) in its own process group with a timeout; output to files."""
    logdir.mkdir(parents=True, exist_ok=True)
    out, err = logdir / f"{name}.out", logdir / f"{name}.err"
    start = time.perf_counter()
    with open(out, "wb") as fo, open(err, "wb") as fe:
        try:
            proc = subprocess.Popen(
                [str(a) for a in argv],
                cwd=str(cwd),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=fo,
                stderr=fe,
                start_new_session=True,
            )
        except OSError as exc:
            return Child(argv, None, 0.0, out, err, start_error=f"cannot start {argv[0]}: {exc.strerror or exc}")
        _LIVE.add(proc)
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _killpg(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
        finally:
            _killpg(proc, signal.SIGKILL)  # whatever is left in its group
            proc.wait()
            _LIVE.discard(proc)
    return Child(argv, proc.returncode, time.perf_counter() - start, out, err, timed_out)


def _killpg(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def kill_all():
    """Whatever is still running (an interrupted bench)."""
    for proc in list(_LIVE):
        _killpg(proc, signal.SIGKILL)
