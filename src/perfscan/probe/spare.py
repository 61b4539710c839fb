"""A spare of the test loop: a fork taken after collection, before any test ran, that makes the
host's later runs of some of the tests without a start-up of their own.

The memory pass's screen (`--opt spare=DIR`) is followed by a traced run of the tests that rose,
and maybe by a catching run and a deep run of a few of them. Each in a process of its own pays the
interpreter's start-up, the imports, the collection and the runner's session end again: on the
corpus 1.4-2.2 s a run, for 1-4 s of tests. So as the screen's loop begins (session.begin_loop),
the process forks; the fork leaves the screen's process group (`setsid`: the host ends the
screen's group when the screen ends) and waits. The host, once the screen has ended, writes
DIR/request-<n>.json ({"out", "options", "tests"}); the spare forks a worker for it, which
becomes a probe run of its own (its own folder, output files, options and recorder) and runs only
the named tests, in the loop's order, as a fresh process would run them (nothing a test did is in
it); the spare writes DIR/worker-<n>.json (the worker's pid, for the host's timeout) and, when the
worker ended, DIR/done-<n>.json. The host kills it when its runs are done; the host's end or
the deadline (`spare_until`) ends it too.

Not forked where forkpool refuses (threads, sockets, no os.fork): DIR/spare.json then says why,
and the host starts a process for each run as before. The host does not ask under Django's runner
(its test databases are set up before the loop and torn down at the screen's end) nor across
xdist workers.
"""

import atexit
import json
import os
import signal
import sys
import time

from . import state
from .contract import write_json
from .forkpool import refusal

POLL_SECONDS = 0.005  # between two looks for a request
WORKER_POLL_SECONDS = 0.02  # between two looks at a running worker
HOST_CHECK_SECONDS = 1.0


def serve(session):
    """Fork the spare where `--opt spare=DIR` asks; returns None in the screen's process (and
    where no spare could be made), and in a worker the set of node ids it is to run."""
    folder = state.options.get("spare")
    if not folder:
        return None
    why = refusal()
    if why:
        write_json(os.path.join(folder, "spare.json"), {"refused": why})
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    # the host's timeout (SIGTERM to the first run's group) must not reach the fork before it
    # leaves that group: its handler would write the first run's files
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    pid = os.fork()
    if pid:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        write_json(os.path.join(folder, "spare.json"), {"pid": pid})
        return None
    try:
        terminate = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.setsid()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        getattr(atexit, "_clear", lambda: None)()  # the screen's exit handlers are the screen's
        request = _serve(folder)
        wanted = _become(session, request)
        signal.signal(signal.SIGTERM, terminate)  # now it writes this run's files
        return wanted
    except BaseException:  # never back into the screen's loop from here
        os._exit(1)


def _serve(folder):
    """The spare's loop: one worker per request; returns in each worker its request."""
    host = int(state.options.get("spare_host") or 0)
    until = float(state.options.get("spare_until") or 0) or time.time() + 3600
    n = 0
    while True:
        n += 1
        request = _wait(folder, n, host, until)
        if request is None:
            os._exit(0)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.setpgid(0, 0)  # what its tests start is ended with it
            return request
        write_json(os.path.join(folder, "worker-%d.json" % n), {"pid": pid})
        code = _reap(pid, host, until)
        _kill_group(pid)  # processes its tests left behind, as after a run in a process of its own
        write_json(os.path.join(folder, "done-%d.json" % n), {"returncode": code})


def _reap(pid, host, until):
    """Wait for the worker; its exit code (minus the signal that killed it). The host's end or
    the deadline ends the worker and the spare."""
    ending = _Ending(host, until)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
        if ending():
            _kill_group(pid)
            os._exit(0)
        time.sleep(WORKER_POLL_SECONDS)


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


class _Ending:
    """Whether the spare is to end: past its deadline, or the host (the scan) is gone; looked at
    every HOST_CHECK_SECONDS."""

    def __init__(self, host, until):
        self.host, self.until = host, until
        self.checked = time.time()

    def __call__(self):
        now = time.time()
        if now - self.checked < HOST_CHECK_SECONDS:
            return False
        self.checked = now
        if now > self.until:
            return True
        if self.host:
            try:
                os.kill(self.host, 0)
            except ProcessLookupError:
                return True
            except OSError:
                pass
        return False


def _wait(folder, n, host, until):
    """Request n, or None when the spare is to end."""
    path = os.path.join(folder, "request-%d.json" % n)
    ending = _Ending(host, until)
    while True:
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                return json.load(fh)
        if ending():
            return None
        time.sleep(POLL_SECONDS)


def _become(session, request):
    """Make this worker the probe run the request asks for; the node ids it runs."""
    out = request["out"]
    os.makedirs(out, exist_ok=True)
    _redirect_output(out)
    options = {k: v for k, v in state.options.items() if k == "packages"}  # the host's, as it gave the screen
    options.update(request.get("options") or {})
    state.options = options
    state.out_dir = out
    state.forked = True  # it ends as soon as its outputs are written (Session.finish)
    session.rerun_as(out, options)
    return frozenset(request["tests"])


def _redirect_output(out):
    """The worker's output into its own folder: fd 1 and 2, and every copy of them (pytest's
    capture keeps one of each and puts it back after each phase; its crash handler writes to one)."""
    targets = {}
    for fd, name in ((1, "child.stdout"), (2, "child.stderr")):
        try:
            st = os.fstat(fd)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) not in targets:  # both to one file: the first name
            path = os.path.join(out, name)
            targets[(st.st_dev, st.st_ino)] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        fds = [int(f) for f in os.listdir("/proc/self/fd")]
    except OSError:
        fds = [1, 2]
    opened = set(targets.values())
    for fd in fds:
        if fd in opened:
            continue
        try:
            st = os.fstat(fd)
        except OSError:
            continue
        target = targets.get((st.st_dev, st.st_ino))
        if target is not None:
            os.dup2(target, fd)
    for target in opened:
        os.close(target)
