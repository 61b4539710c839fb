"""Database statements the tests ran, counted by the project lines that ran them and by shape.

Part of the exact counts: calls.py installs it beside the call counters, so the counts come from
the run that counts (the plain timing run when it ran the profiled tests) and a sampled run
carries no tracing; the cProfile engine installs its own.

The n-plus-one-query pattern needs what samples cannot give: how many statements a line ran and
what they said. sqlite3 (the standard library's driver, under Django's and SQLAlchemy's sqlite
backends too) tells both without patching anything:

- `sqlite3.connect` is wrapped (in the module, where Django's backend and SQLAlchemy's dialect
  look it up at each call): each new connection gets a trace callback, which sqlite calls with
  every statement it runs, in the thread that runs it. (The audit event a connection raises comes
  before it can take a callback.) Connections made before the recorder starts, or through a
  `connect` imported by name before then (at conftest import), are not seen.
- The callback walks up the stack to the project's frames (projectcode.py's rule) and files the
  statement under the innermost four (file, line) pairs, innermost first: the host finds the
  project line that iterates among them (a query run by a helper that a view calls per item).
- The statement's shape: literals become `?` (sqlite hands over the statement with its values
  expanded), a list of them `(...)`, the select list `...`, whitespace one space; only
  SELECT, INSERT, UPDATE, DELETE, REPLACE and WITH statements are kept.
- Cheap per statement (a loop runs thousands): the walk up the stack is done once per call site
  (the same frame at the same instruction again reuses it), and statements are grouped by their
  text without digits; shapes are made once per group when the recorder exports.
- The time inside the callback is measured and exported (`spent`, per phase). A CPU sample that
  lands in the callback is mostly sqlite's own work before it (preparing the statement): the
  signal waits for the next Python instruction, the callback's first. The host takes out only
  the measured time and gives the rest to the project line (passes/cpu/profile.py).

A project that sets its own trace callback on a connection replaces this one there. `stop`
puts `sqlite3.connect` back.
"""

import re
import sys
from time import perf_counter
from typing import Any

from .clocks import getframe
from .projectcode import ProjectFiles
from .projectmap import to_project

MAX_SITES = 4
MAX_SHAPE = 240
_KINDS = ("SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH")
# string and blob literals, numbers, placeholders: each becomes `?` (one pass: this runs per statement)
_LITERAL = re.compile(
    r"[xX]?'(?:[^']|'')*'|(?<![\w.?])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b|\?\d*|(?<!:):\w+|%s|%\(\w+\)s"
)
_LIST = re.compile(r"\(\?(?:, ?\?)+\)")


_DIGITS = b"0123456789"


def _digitless(statement):
    # bytes.translate deletes in C at once; str.translate with a deleting table costs 10x more
    return str(statement).encode("utf-8", "surrogateescape").translate(None, _DIGITS)


# the statement without its digits -> its shape: a query repeated with other numbers
_CACHE = {}  # type: dict


def shape(statement):
    """A statement's shape, or None for statements that are not queries (BEGIN, PRAGMA, ...)."""
    text = str(statement)
    key = _digitless(text)
    found = _CACHE.get(key, 0)
    if found != 0:
        return found
    found = _shape(text)
    # a shape that kept digits has them in names (t1, t2): another statement with the same
    # digitless text may name another table, so such shapes are not cached
    if found is None or not any(c.isdigit() for c in found):
        if len(_CACHE) > 4096:
            _CACHE.clear()
        _CACHE[key] = found
    return found


def _shape(text):
    head = text.lstrip()[:7].upper()
    if not head.startswith(_KINDS):
        return None
    text = " ".join(_LITERAL.sub("?", text).split())
    if "(?," in text:
        text = _LIST.sub("(...)", text)
    upper = text.upper()
    if upper.startswith("SELECT "):
        at = upper.find(" FROM ")
        if at > 0:
            distinct = "DISTINCT " if upper.startswith("SELECT DISTINCT ") else ""
            text = "SELECT " + distinct + "..." + text[at:]
    return text[:MAX_SHAPE]


class QueryRecorder:
    def __init__(self, root):
        self.project = ProjectFiles(root)
        self.counts = {}  # (phase, sites, text without digits) -> [statements, one of them]
        self._frame: Any = None  # the frame that ran the last statement, its instruction and its project sites
        self._lasti = -1
        self._sites = ()
        self.phase = None
        self.active = False
        self.connections = 0
        self.errors = []
        self._original = None
        self.spent = {}  # phase -> seconds inside the trace callback (the host takes them out of the samples)

    def install(self):
        try:
            import sqlite3
        except ImportError:
            return "no sqlite3 module"
        original = sqlite3.connect
        recorder = self

        def connect(*args, **kwargs):
            conn = original(*args, **kwargs)
            if recorder.active:
                recorder._watch(conn)
            return conn

        connect.__wrapped__ = original  # type: ignore[attr-defined]
        connect.__doc__ = original.__doc__
        self._original = original
        sqlite3.connect = connect
        dbapi2 = getattr(sqlite3, "dbapi2", None)
        if dbapi2 is not None and getattr(dbapi2, "connect", None) is original:
            dbapi2.connect = connect
        self.active = True
        return ""

    def stop(self):
        self.active = False
        original = self._original
        if original is None:
            return
        self._original = None
        sqlite3 = sys.modules.get("sqlite3")
        mods = [sqlite3, getattr(sqlite3, "dbapi2", None)]  # type: list
        for mod in mods:
            if mod is not None and getattr(getattr(mod, "connect", None), "__wrapped__", None) is original:
                mod.connect = original

    def start_phase(self, phase):
        self.phase = phase

    def stop_phase(self):
        self.phase = None
        self._frame = None  # the last caller's frame is not kept past its phase

    def _watch(self, conn):
        try:
            conn.set_trace_callback(self._trace)
            self.connections += 1
        except Exception as exc:
            if not self.errors:
                self.errors.append("statements not counted: %s: %s" % (type(exc).__name__, exc))

    def _trace(self, statement):
        phase = self.phase
        if phase is None or not self.active:
            return
        began = perf_counter()
        try:
            f = getframe(1)
            if f is self._frame and f.f_lasti == self._lasti:
                sites = self._sites  # the same call again (a loop's next turn, a batch's next row)
            else:
                sites = self._walk(f)
                self._frame, self._lasti, self._sites = f, getattr(f, "f_lasti", -1), sites
            if not sites:
                return  # a statement of test code or a library alone: no project line to blame
            # grouped by the text without its digits now; shapes are made once per group at export
            key = (phase, sites, _digitless(statement))
            entry = self.counts.get(key)
            if entry is None:
                self.counts[key] = [1, statement]
            else:
                entry[0] += 1
        except Exception as exc:  # never let the profiler break a statement
            if len(self.errors) < 3:
                self.errors.append("a statement was not counted: %s: %s" % (type(exc).__name__, exc))
        finally:
            self.spent[phase] = self.spent.get(phase, 0.0) + perf_counter() - began

    def _walk(self, f):
        sites = []  # type: list
        project = self.project
        n = 0
        # up to the test that called it: the test runner's frames above hold no project line
        while f is not None and len(sites) < MAX_SITES and n < 200:
            code = f.f_code
            if project.code(code):
                sites.append((to_project(code.co_filename), f.f_lineno or 0))
            elif project.harness(code):
                break
            f = f.f_back
            n += 1
        return tuple(sites)

    def export(self):
        """[[phase, [[file, line], ...innermost first], shape, count]], the connections seen, the errors."""
        merged = {}  # type: dict
        for (phase, sites, _digitless), (n, statement) in list(self.counts.items()):
            form = shape(statement)
            if form is not None:
                key = (phase, sites, form)
                merged[key] = merged.get(key, 0) + n
        rows = [[phase, [list(s) for s in sites], form, n] for (phase, sites, form), n in merged.items()]
        return {
            "method": "sqlite3 trace callback",
            "statements": rows,
            "connections": self.connections,
            "errors": list(self.errors),
            "spent": dict(self.spent),
        }
