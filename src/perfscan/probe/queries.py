"""Database statements the tests ran, counted by the project lines that ran them and by shape.

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

A project that sets its own trace callback on a connection replaces this one there. `stop`
puts `sqlite3.connect` back.
"""

import re
import sys

from .clocks import getframe
from .projectcode import ProjectFiles

MAX_SITES = 4
MAX_SHAPE = 240
_KINDS = ("SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH")
# string and blob literals, numbers, placeholders: each becomes `?` (one pass: this runs per statement)
_LITERAL = re.compile(
    r"[xX]?'(?:[^']|'')*'|(?<![\w.?])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b|\?\d*|(?<!:):\w+|%s|%\(\w+\)s"
)
_LIST = re.compile(r"\(\?(?:, ?\?)+\)")


_DIGITLESS = str.maketrans("", "", "0123456789")
# the statement without its digits -> its shape: a query repeated with other numbers
_CACHE = {}  # type: dict


def shape(statement):
    """A statement's shape, or None for statements that are not queries (BEGIN, PRAGMA, ...)."""
    text = str(statement)
    key = text.translate(_DIGITLESS)
    found = _CACHE.get(key, 0)
    if found != 0:
        return found
    found = _shape(text)
    # a shape that kept digits has them in names (t1, t2): another statement with the same
    # digitless text may name another table, so such shapes are not cached
    if found is None or found == found.translate(_DIGITLESS):
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
        self.counts = {}  # (phase, test, sites, shape) -> statements
        self.tests = []
        self._test_index = {}
        self.phase = None
        self.test = -1
        self.active = False
        self.connections = 0
        self.errors = []
        self._original = None

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

    def start_phase(self, nodeid, phase):
        idx = self._test_index.get(nodeid)
        if idx is None:
            idx = self._test_index[nodeid] = len(self.tests)
            self.tests.append(nodeid)
        self.test = idx
        self.phase = phase

    def stop_phase(self):
        self.phase = None

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
        try:
            form = shape(statement)
            if form is None:
                return
            sites = []  # type: list
            f = getframe(1)
            project = self.project
            n = 0
            while f is not None and len(sites) < MAX_SITES and n < 400:
                if project.code(f.f_code):
                    sites.append((f.f_code.co_filename, f.f_lineno or 0))
                f = f.f_back
                n += 1
            if not sites:
                return  # a statement of test code or a library alone: no project line to blame
            key = (phase, self.test, tuple(sites), form)
            self.counts[key] = self.counts.get(key, 0) + 1
        except Exception as exc:  # never let the profiler break a statement
            if len(self.errors) < 3:
                self.errors.append("a statement was not counted: %s: %s" % (type(exc).__name__, exc))

    def export(self):
        """[[phase, test index, [[file, line], ...innermost first], shape, count]], the tests, the errors."""
        rows = [
            [phase, test, [list(s) for s in sites], form, n]
            for (phase, test, sites, form), n in list(self.counts.items())
        ]
        return {
            "method": "sqlite3 trace callback",
            "tests": list(self.tests),
            "statements": rows,
            "connections": self.connections,
            "errors": list(self.errors),
        }
