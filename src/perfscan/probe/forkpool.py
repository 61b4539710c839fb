"""More runs of the same tests from one process: the test loop forked after collection.

A short suite is sampled more than once so that its shares rest on enough samples (the CPU
pass's pooled runs). Each run in a process of its own pays the interpreter's start-up, the
imports and the collection again: for a suite of 1 s of tests, most of a run. With `--opt
pool=N` the session forks N children one after another as the test loop begins
(session.begin_loop, under every driver), after collection and before any test ran: each runs
the loop once, writing into OUT/pool-<i>, as a fresh process would (nothing a test did is in
it), and the parent, last, runs the loop into OUT. A child ends as soon as its outputs are
written (`Session.finish`): the rest of the runner's session end (its terminal summary, other
plugins' hooks: the hypothesis plugin imports hypothesis there, a second each) and the exit
handlers the parent registered (a temporary folder the project removes at exit is the parent's
too) are the parent's alone. The fork first tears down the fixtures still set up (after -x or an
interrupt) and runs the exit handlers registered since the fork (a test's temporary folder).

Not forked where a thread other than the main one is alive (a fork copies only the calling
thread: what the others hold would be lost), where a socket is open (a database or service
connection made at import would be shared, and a child's goodbye at its exit would close it for
the parent) or where there is no os.fork: then only the parent's run is made, and `pool.json`
says why, for the host.
"""

import atexit
import os
import sys
import threading

from . import state
from .contract import write_json


def pooled_loops():
    """Fork the asked loops, one after another; returns in each child (its outputs moved to its
    own folder) and, after the last child ended, in the parent."""
    asked = int(state.options.get("pool") or 0)
    if asked <= 0:
        return
    why = refusal()
    forked = 0
    if not why:
        for i in range(1, asked + 1):
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                state.forked = True
                # the parent's exit handlers stay the parent's; the fork runs its own (Session.finish)
                getattr(atexit, "_clear", lambda: None)()
                _move_outputs(os.path.join(state.out_dir, "pool-%d" % i))
                return
            os.waitpid(pid, 0)  # one loop at a time: the runs must not share the cores
            forked += 1
    write_json(os.path.join(state.out_dir, "pool.json"), {"asked": asked, "forked": forked, "refused": why})


def refusal():
    """Why the loop cannot be forked here, or ""."""
    if not hasattr(os, "fork"):
        return "no os.fork on this platform"
    if threading.active_count() > 1:
        return "%d threads alive after collection" % threading.active_count()
    sockets = _sockets()
    if sockets:
        return "%d socket(s) open after collection" % sockets
    return ""


def _sockets():
    """Sockets this process has open (Linux; 0 where it cannot tell): a child's use of a
    connection made before the fork, and its goodbye at exit, would be the parent's too."""
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return 0
    n = 0
    for fd in fds:
        try:
            n += os.readlink(os.path.join("/proc/self/fd", fd)).startswith("socket:")
        except OSError:
            pass
    return n


def _move_outputs(folder):
    os.makedirs(folder, exist_ok=True)
    state.out_dir = folder
    for rec in state.recorders:
        for obj in (rec, getattr(rec, "fallback", None)):
            if obj is not None and hasattr(obj, "out_dir"):
                obj.out_dir = folder
