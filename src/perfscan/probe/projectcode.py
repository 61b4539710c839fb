"""Which code objects are the project's own, as the probe can tell cheaply while sampling.

The same over-approximation as the call counters' (calls.py): a .py file under the working
folder (the project root), outside virtual environments, site-packages, test folders and test
files. The host decides for real with its locator (excludes, source roots); this rule only lets
the probe tell a thread working in project code from one idling in a library (a server's select
loop, an executor's idle worker) and find the project line a query came from.
"""

import os

from .paths import is_skipped_dir, is_test_file
from .projectmap import to_project

# the probe's folder as resolved and as imported (its code objects carry the latter)
PROBE_DIR = tuple(
    dict.fromkeys(os.path.dirname(p) + os.sep for p in (os.path.realpath(__file__), os.path.abspath(__file__)))
)


def is_project_file(filename, roots):
    """A .py file under one of `roots` (the project root as given and as resolved), outside the
    probe, virtual environments, site-packages, test folders and test files. An absolute path
    costs no file system call (callers run in import hooks, signal handlers' neighbours and
    running event loops)."""
    if not filename or not filename.endswith(".py"):
        return False
    path = os.path.normpath(filename) if os.path.isabs(filename) else os.path.realpath(filename)
    if path.startswith(PROBE_DIR):
        return False
    rel = None
    for root in roots:
        if path.startswith(root + os.sep):
            rel = path[len(root) + 1 :]
            break
    if rel is None:
        return False
    parts = rel.split(os.sep)
    if any(is_skipped_dir(p) for p in parts[:-1]):
        return False
    return not is_test_file(parts[-1])


class ProjectFiles:
    def __init__(self, root):
        real = os.path.realpath(root)
        # the root as given and as resolved: code objects carry the path they were imported by
        self._roots = tuple(dict.fromkeys((real, os.path.abspath(root))))
        self._files = {}  # filename -> bool
        self._codes = {}  # code object -> bool
        self._harness = {}  # code object -> bool

    def code(self, code):
        found = self._codes.get(code)
        if found is None:
            found = self._codes[code] = self.file(code.co_filename)
        return found

    def harness(self, code):
        """Test code or the test runner (pytest, pluggy): a walk up a stack can stop there."""
        found = self._harness.get(code)
        if found is None:
            name = code.co_filename.replace("\\", "/")
            found = self._harness[code] = is_test_file(name.rsplit("/", 1)[-1]) or any(
                part in name for part in ("/_pytest/", "/pluggy/", "/unittest/")
            )
        return found

    def file(self, filename):
        found = self._files.get(filename)
        if found is None:
            # an installed copy of the project's package counts as the project (projectmap.py)
            found = self._files[filename] = self._classify(to_project(filename))
        return found

    def _classify(self, filename):
        # no file system calls for an absolute path: this may run inside a signal handler's
        # neighbour thread or an event loop that flags blocking calls
        return is_project_file(filename, self._roots)

    def innermost(self, frame, limit=200):
        """The innermost project frame at or above `frame`, or None."""
        n = 0
        while frame is not None and n < limit:
            if self.code(frame.f_code):
                return frame
            frame = frame.f_back
            n += 1
        return None
