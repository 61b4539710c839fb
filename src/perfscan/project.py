"""Project discovery: root, packages, source roots, tests, console scripts, runner.

A monorepo (sub-projects with their own packaging files under the root, which the root's pytest
run collects) is one project: each sub-project's packages and source roots join the root's, so
its modules are named from its own package (`alpha.inventory`, not `packages.a.src.alpha.inventory`).
"""

from __future__ import annotations

import configparser
import glob
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from perfscan.declared import Declared, read_declared, top_level
from perfscan.errors import UsageError
from perfscan.models import Project, Settings
from perfscan.runner import detect_runner, direct_launch, inspect_interpreter
from perfscan.settings import read_pyproject
from perfscan.sources import is_skipped_dir, relative_posix

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.9/3.10
    import tomli as tomllib

SUBPROJECT_DEPTH = 3  # packages/a, libs/group/a: how deep below the root sub-projects are looked for
_MAX_FOLDERS = 2000  # folders looked at in that search, so a huge tree costs little


def _req_name(req: str) -> str:
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    return m.group(1).lower().replace("_", "-") if m else ""


def _pytest_ini(root: Path, pyproject: Mapping[str, Any]) -> Dict[str, Any]:
    """pytest's ini options from pyproject.toml, pytest.ini, tox.ini or setup.cfg (first found)."""
    opts = pyproject.get("tool", {}).get("pytest", {}).get("ini_options")
    if isinstance(opts, dict):
        return opts
    for name, section in (("pytest.ini", "pytest"), ("tox.ini", "tool:pytest"), ("setup.cfg", "tool:pytest")):
        path = root / name
        if not path.is_file():
            continue
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue
        if parser.has_section(section):
            return {k: v.split() if k in ("pythonpath", "testpaths") else v for k, v in parser.items(section)}
    return {}


def discover_project(settings: Settings, env: Dict[str, str]) -> Project:
    root = settings.path
    if not root.exists():
        raise UsageError(f"{root} does not exist; pass the path of a project folder")
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder; pass the path of a project folder")
    pyproject = read_pyproject(root)
    notes: List[str] = []
    declared = read_declared(root, pyproject)
    if not pyproject and not (root / "setup.py").is_file() and not (root / "setup.cfg").is_file():
        notes.append("no pyproject.toml, setup.cfg or setup.py: packages and entry points found from the folder layout")
    notes += declared.notes

    ini = _pytest_ini(root, pyproject)
    pythonpath = ini.get("pythonpath") or []
    if isinstance(pythonpath, str):
        pythonpath = pythonpath.split()
    own = _layout(root, declared, [root / p for p in pythonpath if isinstance(p, str)])
    testpaths = ini.get("testpaths") or []
    testpaths = testpaths.split() if isinstance(testpaths, str) else [t for t in testpaths if isinstance(t, str)]
    subs = [_subproject(root, folder) for folder in _tested(root, find_subprojects(root), testpaths)]
    layouts = [own] + [s.layout for s in subs]

    source_roots: List[Path] = []
    # the root last: on PYTHONPATH it comes after the folders the packages live in
    for r in [r for lay in layouts for r in lay.roots if r != root] + [root]:
        r = Path(os.path.normpath(r))
        if r.is_dir() and r not in source_roots:
            source_roots.append(r)
    packages = tuple(dict.fromkeys(n for lay in layouts for n in lay.packages if n.isidentifier()))
    every = [declared] + [s.declared for s in subs]
    notes += [f"{s.rel}: {n}" for s in subs for n in s.declared.notes + s.notes]

    tests_dir: Optional[Path] = None
    for cand in [root / t for t in testpaths] + [root / "tests", root / "test"]:
        if cand.is_dir():
            tests_dir = cand
            break

    scripts: Dict[str, str] = {}
    for d in every:
        for k, v in d.console_scripts:
            scripts.setdefault(k, v)
    deps = [r for d in every for r in d.requirements]
    req = root / "requirements.txt"
    if req.is_file():
        try:
            deps += [
                ln
                for ln in req.read_text(encoding="utf-8", errors="replace").splitlines()
                if ln.strip() and not ln.startswith(("#", "-"))
            ]
        except OSError:
            pass
    dependencies = tuple(dict.fromkeys(n for n in (_req_name(d) for d in deps) if n and n != "python"))
    # the project's own pytest plugins (pytest11 entry points): test harness, not the product
    plugins = [p for d in every for p in d.pytest_plugins]

    runner, origin = detect_runner(root, settings.runner, settings.origins.get("runner", "--runner"))
    interp = inspect_interpreter(runner, origin, root, env)
    launch, launch_env = direct_launch(runner, origin, root, env, interp)
    return Project(
        root=root,
        name=declared.name or root.name,
        packages=packages,
        source_roots=tuple(source_roots),
        tests_dir=tests_dir,
        console_scripts=tuple(sorted(scripts.items())),
        dependencies=dependencies,
        runner=runner,
        runner_origin=origin,
        python_version=interp.version,
        has_pytest=interp.has_pytest,
        pyproject=pyproject,
        notes=tuple(notes),
        has_memray=interp.has_memray,
        has_django=interp.has_django,
        has_pytest_django=interp.has_pytest_django,
        launch=launch,
        launch_env=launch_env,
        pytest_plugins=tuple(dict.fromkeys(p.split(":", 1)[0].strip() for p in plugins if p.strip())),
        subprojects=tuple(s.rel for s in subs),
    )


@dataclass(frozen=True)
class _Layout:
    packages: Tuple[str, ...]
    roots: Tuple[Path, ...]  # without the project root itself, which comes last


def _layout(folder: Path, declared: Declared, pythonpath: Sequence[Path]) -> _Layout:
    """A folder's packages and source roots: what its packaging files declare, else a `src/`
    layout, else the packages at its top (single modules only where packages would be looked
    for, never from a pytest `pythonpath` folder, which holds helpers or scripts as often as code)."""
    main = list(declared.package_roots)
    if (folder / "src").is_dir() and not (folder / "src" / "__init__.py").exists():
        main.append(folder / "src")
    roots = main + [p for p in pythonpath if p != folder]
    names = list(declared.packages)
    if not names:
        for candidates, modules in ((main + [folder], False), (roots, False), (main + [folder], True)):
            for r in candidates:
                names = top_level(r, modules=modules)
                if names:
                    break
            if names:
                break
    return _Layout(tuple(names), tuple(roots) + ((folder,) if folder not in roots else ()))


@dataclass(frozen=True)
class _Subproject:
    rel: str  # posix, relative to the root
    declared: Declared
    layout: _Layout
    notes: Tuple[str, ...]


def find_subprojects(root: Path) -> List[Path]:
    """Folders below the root with their own packaging file (pyproject.toml with a project or build
    table, setup.py, setup.cfg with metadata or options), not inside a package, a skipped folder
    (tests, docs, examples, vendored code, environments) or another sub-project."""
    found: List[Path] = []
    level = [root]
    seen = 0
    for _ in range(SUBPROJECT_DEPTH):
        below: List[Path] = []
        for folder in level:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            for e in entries:
                try:
                    if not e.is_dir(follow_symlinks=False) or e.name.startswith(".") or is_skipped_dir(e.name):
                        continue
                except OSError:
                    continue
                seen += 1
                if seen > _MAX_FOLDERS:
                    return found
                path = Path(e.path)
                if _is_subproject(path):
                    found.append(path)
                elif not (path / "__init__.py").exists():
                    below.append(path)
        level = below
    return found


def _is_subproject(folder: Path) -> bool:
    if (folder / "setup.py").is_file():
        return True
    data = _read_toml(folder / "pyproject.toml")
    if data and ("project" in data or "build-system" in data or "poetry" in data.get("tool", {})):
        return True
    cfg = folder / "setup.cfg"
    if cfg.is_file():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(cfg, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            return False
        return parser.has_section("metadata") or parser.has_section("options")
    return False


def _read_toml(path: Path) -> Dict[str, Any]:
    """A sub-project's pyproject.toml; one that does not parse counts as absent (pytest never reads it)."""
    try:
        with open(path, "rb") as fh:
            data: Dict[str, Any] = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
    return data


def _tested(root: Path, folders: Sequence[Path], testpaths: Sequence[str]) -> List[Path]:
    """The sub-projects the root's pytest run collects: all of them without `testpaths` (pytest
    collects from the root down), else those a test path points into (or holds)."""
    if not testpaths:
        return list(folders)
    paths: List[Path] = []
    for t in testpaths:
        matches = glob.glob(str(root / t)) if glob.has_magic(t) else [str(root / t)]
        paths += [Path(os.path.normpath(m)) for m in matches]
    return [
        f for f in folders if any(relative_posix(p, f) is not None or relative_posix(f, p) is not None for p in paths)
    ]


def _subproject(root: Path, folder: Path) -> _Subproject:
    pyproject = _read_toml(folder / "pyproject.toml")
    notes: Tuple[str, ...] = ()
    if (folder / "pyproject.toml").is_file() and not pyproject:
        notes = ("pyproject.toml could not be read",)
    declared = read_declared(folder, pyproject)
    return _Subproject(relative_posix(folder, root) or folder.name, declared, _layout(folder, declared, ()), notes)
