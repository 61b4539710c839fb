"""Project discovery: root, packages, source roots, tests, console scripts, runner."""

from __future__ import annotations

import configparser
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from perfscan.errors import UsageError
from perfscan.models import Project, Settings
from perfscan.runner import detect_runner, inspect_interpreter
from perfscan.settings import read_pyproject
from perfscan.sources import SKIP_DIRS, is_test_file

_NOT_PACKAGES = {"setup", "conftest", "noxfile", "fabfile", "tasks", "manage", "docs", "tests", "test"}


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


def _packages_from_config(root: Path, pyproject: Mapping[str, Any]) -> Tuple[List[str], List[Path]]:
    tool = pyproject.get("tool", {})
    names: List[str] = []
    roots: List[Path] = []
    st = tool.get("setuptools", {}) if isinstance(tool.get("setuptools"), dict) else {}
    pk = st.get("packages")
    if isinstance(pk, list):
        names += [p.split(".")[0] for p in pk if isinstance(p, str)]
    elif isinstance(pk, dict) and isinstance(pk.get("find"), dict):
        for where in pk["find"].get("where", []) or []:
            roots.append(root / where)
    pdir = st.get("package-dir")
    if isinstance(pdir, dict) and isinstance(pdir.get(""), str):
        roots.append(root / pdir[""])
    hatch = (
        tool.get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {})
        if isinstance(tool.get("hatch"), dict)
        else {}
    )
    for p in hatch.get("packages", []) or []:
        if isinstance(p, str):
            path = root / p
            names.append(path.name)
            if path.parent != root:
                roots.append(path.parent)
    for p in tool.get("poetry", {}).get("packages", []) or [] if isinstance(tool.get("poetry"), dict) else []:
        if isinstance(p, dict) and isinstance(p.get("include"), str):
            names.append(p["include"].split("/")[0].split(".")[0])
            if isinstance(p.get("from"), str):
                roots.append(root / p["from"])
    return names, roots


def _importables(folder: Path) -> List[str]:
    out: List[str] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return out
    for e in entries:
        try:
            if (
                e.is_dir()
                and not e.name.startswith(".")
                and e.name not in SKIP_DIRS
                and e.name.isidentifier()
                and (Path(e.path) / "__init__.py").is_file()
            ):
                out.append(e.name)
        except OSError:
            continue
    if not out:  # a single-module project
        for e in entries:
            stem = e.name[:-3]
            if (
                e.name.endswith(".py")
                and stem.isidentifier()
                and stem not in _NOT_PACKAGES
                and not is_test_file(e.name)
            ):
                out.append(stem)
    return out


def discover_project(settings: Settings, env: Dict[str, str]) -> Project:
    root = settings.path
    if not root.exists():
        raise UsageError(f"{root} does not exist; pass the path of a project folder")
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder; pass the path of a project folder")
    pyproject = read_pyproject(root)
    notes: List[str] = []
    if not pyproject:
        notes.append("no pyproject.toml: packages and entry points found from the folder layout")
    proj = pyproject.get("project", {}) if isinstance(pyproject.get("project"), dict) else {}
    poetry = (
        pyproject.get("tool", {}).get("poetry", {}) if isinstance(pyproject.get("tool", {}).get("poetry"), dict) else {}
    )
    name = str(proj.get("name") or poetry.get("name") or root.name)

    names, roots = _packages_from_config(root, pyproject)
    ini = _pytest_ini(root, pyproject)
    pythonpath = ini.get("pythonpath") or []
    if isinstance(pythonpath, str):
        pythonpath = pythonpath.split()
    if (root / "src").is_dir() and not (root / "src" / "__init__.py").exists():
        roots.append(root / "src")
    roots += [root / p for p in pythonpath if isinstance(p, str)]
    roots.append(root)
    source_roots: List[Path] = []
    for r in roots:
        r = Path(os.path.normpath(r))
        if r.is_dir() and r not in source_roots:
            source_roots.append(r)
    if not names:
        for r in source_roots:
            found = _importables(r)
            if found:
                names = found
                break
    packages = tuple(dict.fromkeys(n for n in names if n.isidentifier()))

    tests_dir: Optional[Path] = None
    testpaths = ini.get("testpaths") or []
    for cand in ([root / t for t in testpaths] if isinstance(testpaths, list) else []) + [
        root / "tests",
        root / "test",
    ]:
        if cand.is_dir():
            tests_dir = cand
            break

    # the project's own pytest plugins (pytest11 entry points): test harness, not the product
    plugins: List[str] = []
    for eps in (proj.get("entry-points"), poetry.get("plugins")):
        table = eps.get("pytest11") if isinstance(eps, dict) else None
        if isinstance(table, dict):
            plugins += [str(v) for v in table.values() if isinstance(v, str)]
    scripts: Dict[str, str] = {}
    for table in (proj.get("scripts"), poetry.get("scripts")):
        if isinstance(table, dict):
            scripts.update({str(k): str(v) for k, v in table.items() if isinstance(v, str)})
    setup_cfg = root / "setup.cfg"
    if setup_cfg.is_file():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(setup_cfg, encoding="utf-8")
            raw = parser.get("options.entry_points", "console_scripts", fallback="")
            for line in raw.splitlines():
                if "=" in line:
                    k, v = line.split("=", 1)
                    scripts.setdefault(k.strip(), v.strip())
            for line in parser.get("options.entry_points", "pytest11", fallback="").splitlines():
                if "=" in line:
                    plugins.append(line.split("=", 1)[1].strip())
        except (configparser.Error, UnicodeDecodeError):
            notes.append("setup.cfg could not be read")

    deps = [d for d in proj.get("dependencies", []) or [] if isinstance(d, str)]
    for group in (
        (proj.get("optional-dependencies") or {}).values()
        if isinstance(proj.get("optional-dependencies"), dict)
        else []
    ):
        deps += [d for d in group if isinstance(d, str)]
    deps += [k for k in (poetry.get("dependencies") or {}) if isinstance(k, str)]
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

    runner, origin = detect_runner(root, settings.runner, settings.origins.get("runner", "--runner"))
    interp = inspect_interpreter(runner, origin, root, env)
    return Project(
        root=root,
        name=name,
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
        pytest_plugins=tuple(dict.fromkeys(p.split(":", 1)[0].strip() for p in plugins if p.strip())),
    )
