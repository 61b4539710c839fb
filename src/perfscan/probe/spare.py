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

POLL_SECONDS = 0.005
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
    pid = os.fork()
    if pid:
        write_json(os.path.join(folder, "spare.json"), {"pid": pid})
        return None
    try:
        os.setsid()
        terminate = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        getattr(atexit, "_clear", lambda: None)()  # the screen's exit handlers are the screen's
        request = _serve(folder)
        signal.signal(signal.SIGTERM, terminate)
        return _become(session, request)
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
            return request
        write_json(os.path.join(folder, "worker-%d.json" % n), {"pid": pid})
        _, status = os.waitpid(pid, 0)
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
        write_json(os.path.join(folder, "done-%d.json" % n), {"returncode": code})


def _wait(folder, n, host, until):
    """Request n, or None when the spare is to end."""
    path = os.path.join(folder, "request-%d.json" % n)
    checked = time.time()
    while True:
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                return json.load(fh)
        now = time.time()
        if now > until:
            return None
        if host and now - checked > HOST_CHECK_SECONDS:
            checked = now
            try:
                os.kill(host, 0)
            except ProcessLookupError:
                return None  # the scan is gone
            except OSError:
                pass
        time.sleep(POLL_SECONDS)


def _become(session, request):
    """Make this worker the probe run the request asks for; the node ids it runs."""
    out = request["out"]
    os.makedirs(out, exist_ok=True)
    for fd, name in ((1, "child.stdout"), (2, "child.stderr")):
        target = os.open(os.path.join(out, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    options = {k: v for k, v in state.options.items() if k == "packages"}  # the host's, as it gave the screen
    options.update(request.get("options") or {})
    state.options = options
    state.out_dir = out
    state.forked = True  # it ends as soon as its outputs are written (Session.finish)
    session.rerun_as(out, options)
    tests = request.get("tests")
    if tests is not None:
        session.outcomes.collected(tests, [])
    return frozenset(tests) if tests is not None else None
