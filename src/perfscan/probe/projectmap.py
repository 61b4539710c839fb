"""Project code wherever it is imported from: a running file mapped to the scanned source.

A project's package may run from a copy outside its folder in the scanned tree: installed into
site-packages (`pip install .`, what a src layout is for), into a venv inside the project, or
editable from another checkout. The host names the project's top-level packages and where each
lives in the scanned source (`--opt packages=<JSON {name: path}>`). The probe finds where each
one runs from (its module in sys.modules: a package's `__path__`, a module's `__file__`) and maps a
running file to the project file at the same path inside the package, so every recorder names
project code by its scanned source: the samples, the call counts, the allocations and the census.

At the end of a run (`report`) it lists the project modules that ran from such a copy, with the
project file each maps to and whether the two have the same content (a hash of the bytes): the
host says in the report when the code that ran is not the code it reads.

Standard library only, like the rest of the probe.
"""

import hashlib
import json
import os
import sys

from . import state
from .paths import is_skipped_dir, is_test_file


class ProjectMap:
    def __init__(self, packages):
        # name -> the package's folder (or the module's file) in the scanned source, resolved
        self.packages = {str(n): os.path.realpath(str(p)) for n, p in (packages or {}).items()}
        self._prefixes = []  # (running prefix, project prefix); folders end with os.sep
        self._resolved = set()  # package names whose running place is known
        self._cache = {}

    def is_project_module(self, name):
        """Whether a dotted module name belongs to one of the project's top-level packages."""
        return name.partition(".")[0] in self.packages

    def _refresh(self):
        # sys.modules holds a package before its code runs, with __path__ or __file__ set: a frame of
        # one of its files cannot exist before the package is listed here
        for name, project in self.packages.items():
            if name in self._resolved:
                continue
            mod = sys.modules.get(name)
            if mod is None:
                continue
            self._resolved.add(name)
            places = list(getattr(mod, "__path__", None) or [])
            is_package = bool(places)
            if not places and isinstance(getattr(mod, "__file__", None), str):
                places = [mod.__file__]
            for place in places:
                if not isinstance(place, str):
                    continue
                for running in dict.fromkeys((os.path.abspath(place), os.path.realpath(place))):
                    if running == project:
                        continue
                    if is_package:
                        self._prefixes.append((running + os.sep, project + os.sep))
                    else:
                        self._prefixes.append((running, project))

    def to_project(self, filename):
        """The scanned source file a running file stands for, else the file name unchanged."""
        found = self._cache.get(filename)
        if found is not None:
            return found
        found = filename
        if self.packages and isinstance(filename, str) and filename.endswith(".py") and os.path.isabs(filename):
            self._refresh()
            path = os.path.normpath(filename)
            for running, project in self._prefixes:
                if path == running or (running.endswith(os.sep) and path.startswith(running)):
                    mapped = project + path[len(running) :] if running.endswith(os.sep) else project
                    if os.path.isfile(mapped):
                        found = mapped
                    break
        self._cache[filename] = found
        return found

    def report(self, root):
        """The project modules that ran from a copy outside their place in the scanned source, and
        how many modules of the project's code were loaded at all (0: the run profiled none)."""
        self._refresh()
        root = os.path.realpath(root)
        modules = []
        loaded = 0
        for name, mod in sorted(list(sys.modules.items()), key=lambda kv: kv[0]):
            filename = getattr(mod, "__file__", None)
            if not isinstance(filename, str) or not filename.endswith(".py"):
                continue
            running = os.path.realpath(filename)
            if self.is_project_module(name):
                if is_test_file(os.path.basename(running)):
                    continue
                loaded += 1
                mapped = self.to_project(filename)
                if os.path.realpath(mapped) == running and running.startswith(root + os.sep):
                    continue  # runs from the scanned source itself
                project = mapped if mapped != filename else None
                modules.append([name, running, project, _same(running, project) if project else None])
            elif _under_project(running, root):
                loaded += 1
        return {"modules": modules[:500], "project_modules": loaded}


def _under_project(path, root):
    if not path.startswith(root + os.sep):
        return False
    parts = path[len(root) + 1 :].split(os.sep)
    return not any(is_skipped_dir(p) or p.startswith(".") for p in parts[:-1]) and not is_test_file(parts[-1])


def _same(a, b):
    try:
        with open(a, "rb") as fa, open(b, "rb") as fb:
            return hashlib.sha256(fa.read()).digest() == hashlib.sha256(fb.read()).digest()
    except OSError:
        return None


_CURRENT = []  # type: list


def current():
    """The run's map, from the host's `packages` option (an empty map when there is none)."""
    if not _CURRENT:
        try:
            packages = json.loads(state.options.get("packages") or "{}")
        except ValueError:
            packages = {}
        _CURRENT.append(ProjectMap(packages if isinstance(packages, dict) else {}))
    return _CURRENT[0]


def to_project(filename):
    return current().to_project(filename)
