"""What a project folder declares about itself in its packaging files, read and never run.

pyproject.toml (`[project]`, setuptools, hatch and poetry tables), setup.cfg (configparser) and
setup.py (parsed with `ast`: its `setup(...)` call's keywords, a name or `**dict` bound at module
level to a literal followed; nothing is executed, so a computed value is simply not known). The
first file that names a thing wins for the name; packages, scripts and requirements are merged.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from perfscan.astutil import dotted, statements
from perfscan.sources import SKIP_DIRS, is_test_file, parse_source

# single modules at a folder's top that are tooling, not the product
NOT_PACKAGES = {"setup", "conftest", "noxfile", "fabfile", "tasks", "manage", "docs", "tests", "test"}
_SETUP_CALLS = {"setup", "setuptools.setup", "distutils.core.setup", "core.setup"}
_FINDERS = {"find_packages", "find_namespace_packages"}
_MAX_DEPTH = 6  # how far a setup.py value is followed through names and `**` dicts


@dataclass(frozen=True)
class Declared:
    name: str = ""
    packages: Tuple[str, ...] = ()  # top-level packages and modules the files name (or find:)
    package_roots: Tuple[Path, ...] = ()  # folders those live in (package-dir, find's where)
    console_scripts: Tuple[Tuple[str, str], ...] = ()  # (name, "module:attr")
    requirements: Tuple[str, ...] = ()  # requirement strings as written
    pytest_plugins: Tuple[str, ...] = ()  # targets of pytest11 entry points
    notes: Tuple[str, ...] = ()


def top_level(folder: Path, modules: bool = True, exclude: Sequence[str] = (), namespace: bool = False) -> List[str]:
    """The importable packages at the top of `folder` (folders with `__init__.py`; with
    `namespace`, any folder holding a .py); with `modules`, its single modules when it has no package."""
    out: List[str] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return out
    for e in entries:
        try:
            if not e.is_dir() or e.name.startswith(".") or e.name in SKIP_DIRS or not e.name.isidentifier():
                continue
            if (Path(e.path) / "__init__.py").is_file() or (namespace and any(Path(e.path).glob("*.py"))):
                out.append(e.name)
        except OSError:
            continue
    out = [n for n in out if not any(fnmatch(n, pat) for pat in exclude)]
    if not out and modules:  # a single-module project
        for e in entries:
            stem = e.name[:-3]
            if e.name.endswith(".py") and stem.isidentifier() and stem not in NOT_PACKAGES and not is_test_file(e.name):
                out.append(stem)
    return out


def read_declared(folder: Path, pyproject: Mapping[str, Any]) -> Declared:
    """Everything the folder's packaging files declare, merged in the order pyproject, setup.cfg, setup.py."""
    parts = [_from_pyproject(folder, pyproject), _from_setup_cfg(folder), _from_setup_py(folder)]
    scripts: Dict[str, str] = {}
    for p in parts:
        for k, v in p.console_scripts:
            scripts.setdefault(k, v)
    return Declared(
        name=next((p.name for p in parts if p.name), ""),
        packages=tuple(dict.fromkeys(n for p in parts for n in p.packages if n.isidentifier())),
        package_roots=tuple(dict.fromkeys(r for p in parts for r in p.package_roots)),
        console_scripts=tuple(sorted(scripts.items())),
        requirements=tuple(r for p in parts for r in p.requirements),
        pytest_plugins=tuple(dict.fromkeys(x for p in parts for x in p.pytest_plugins)),
        notes=tuple(n for p in parts for n in p.notes),
    )


# --- pyproject.toml


def _from_pyproject(folder: Path, pyproject: Mapping[str, Any]) -> Declared:
    tool = _table(pyproject, "tool")
    proj = _table(pyproject, "project")
    poetry = _table(tool, "poetry")
    names: List[str] = []
    roots: List[Path] = []
    st = _table(tool, "setuptools")
    pk = st.get("packages")
    if isinstance(pk, list):
        names += [p.split(".")[0] for p in pk if isinstance(p, str)]
    elif isinstance(pk, dict) and isinstance(pk.get("find"), dict):
        for where in pk["find"].get("where", []) or []:
            if isinstance(where, str):
                roots.append(folder / where)
    names += [m for m in st.get("py-modules", []) or [] if isinstance(m, str)]
    pdir = st.get("package-dir")
    if isinstance(pdir, dict):
        roots += _package_dir_roots(folder, {str(k): str(v) for k, v in pdir.items() if isinstance(v, str)})
    wheel = _table(_table(_table(_table(tool, "hatch"), "build"), "targets"), "wheel")
    for p in wheel.get("packages", []) or []:
        if isinstance(p, str):
            path = folder / p
            names.append(path.name)
            if path.parent != folder:
                roots.append(path.parent)
    for p in poetry.get("packages", []) or []:
        if isinstance(p, dict) and isinstance(p.get("include"), str):
            names.append(p["include"].split("/")[0].split(".")[0])
            if isinstance(p.get("from"), str):
                roots.append(folder / p["from"])
    scripts: Dict[str, str] = {}
    for table in (proj.get("scripts"), poetry.get("scripts")):
        if isinstance(table, dict):
            scripts.update({str(k): str(v) for k, v in table.items() if isinstance(v, str)})
    plugins: List[str] = []
    for eps in (proj.get("entry-points"), poetry.get("plugins")):
        table = eps.get("pytest11") if isinstance(eps, dict) else None
        if isinstance(table, dict):
            plugins += [str(v) for v in table.values() if isinstance(v, str)]
    reqs = [d for d in proj.get("dependencies", []) or [] if isinstance(d, str)]
    for group in _table(proj, "optional-dependencies").values():
        reqs += [d for d in group if isinstance(d, str)] if isinstance(group, list) else []
    reqs += [k for k in _table(poetry, "dependencies") if isinstance(k, str)]
    return Declared(
        name=str(proj.get("name") or poetry.get("name") or ""),
        packages=tuple(names),
        package_roots=tuple(roots),
        console_scripts=tuple(scripts.items()),
        requirements=tuple(reqs),
        pytest_plugins=tuple(plugins),
    )


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _package_dir_roots(folder: Path, package_dir: Mapping[str, str]) -> List[Path]:
    """`{"": "src"}` puts every package in src/; `{"pkg": "lib/pkg"}` puts pkg in lib/."""
    roots: List[Path] = []
    for name, where in package_dir.items():
        if not name:
            roots.append(folder / where)
        elif "." not in name and Path(where).name == name:
            roots.append((folder / where).parent)
    return roots


def _found(where: Path, include: Sequence[str], exclude: Sequence[str], namespace: bool) -> List[str]:
    """Top-level names `find_packages(where, exclude, include)` would give, found the same way."""
    names = top_level(where, modules=False, exclude=exclude, namespace=namespace)
    if include and list(include) != ["*"]:
        names = [n for n in names if any(fnmatch(n, pat) or pat.startswith(n + ".") for pat in include)]
    return names


# --- setup.cfg


def _cfg_list(value: str) -> List[str]:
    return [x.strip() for x in re.split(r"[\n,]", value) if x.strip()]


def _from_setup_cfg(folder: Path) -> Declared:
    path = folder / "setup.cfg"
    if not path.is_file():
        return Declared()
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return Declared(notes=("setup.cfg could not be read",))
    get = parser.get
    roots = _package_dir_roots(folder, _cfg_pairs(get("options", "package_dir", fallback="")))
    names: List[str] = []
    packages = get("options", "packages", fallback="").strip()
    if packages in ("find:", "find_namespace:"):
        where = get("options.packages.find", "where", fallback="").strip()
        found_in = folder / where if where else (roots[0] if roots else folder)
        if where:
            roots.insert(0, found_in)
        names += _found(
            found_in,
            _cfg_list(get("options.packages.find", "include", fallback="")),
            _cfg_list(get("options.packages.find", "exclude", fallback="")),
            packages == "find_namespace:",
        )
    else:
        names += [p.split(".")[0] for p in _cfg_list(packages)]
    names += _cfg_list(get("options", "py_modules", fallback=""))
    reqs = _requirement_lines(get("options", "install_requires", fallback=""))
    if parser.has_section("options.extras_require"):
        for _, value in parser.items("options.extras_require"):
            reqs += _requirement_lines(value)
    return Declared(
        name=get("metadata", "name", fallback="").strip(),
        packages=tuple(names),
        package_roots=tuple(roots),
        console_scripts=tuple(_cfg_pairs(get("options.entry_points", "console_scripts", fallback="")).items()),
        requirements=tuple(reqs),
        pytest_plugins=tuple(_cfg_pairs(get("options.entry_points", "pytest11", fallback="")).values()),
    )


def _cfg_pairs(value: str) -> Dict[str, str]:
    """`key = value` lines of a setup.cfg value (`=src` gives the key "")."""
    out: Dict[str, str] = {}
    for line in value.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out.setdefault(k.strip(), v.strip())
    return out


def _requirement_lines(value: str) -> List[str]:
    return [ln.strip() for ln in value.splitlines() if ln.strip() and not ln.strip().startswith("#")]


# --- setup.py


def _from_setup_py(folder: Path) -> Declared:
    path = folder / "setup.py"
    if not path.is_file():
        return Declared()
    parsed = parse_source(path)
    if parsed.tree is None:
        return Declared(notes=(f"setup.py could not be read ({parsed.note.split(': ', 1)[-1]})",))
    reader = _SetupPy(parsed.tree)
    call = reader.setup_call()
    if call is None:
        return Declared()
    kw = reader.keywords(call)
    names: List[str] = []
    roots: List[Path] = []
    for value in kw.get("package_dir", []):
        for pairs in reader.dicts(value):
            roots += _package_dir_roots(folder, {k: s for k, v in pairs for s in reader.strings(v)[:1]})
    for value in kw.get("packages", []):
        found = reader.finder(value)
        if found is not None:
            where, include, exclude, namespace = found
            base = folder / where if where != "." else (roots[0] if roots else folder)
            if where != ".":
                roots.insert(0, base)
            names += _found(base, include, exclude, namespace)
        else:
            names += [p.split(".")[0] for p in reader.strings(value)]
    for value in kw.get("py_modules", []):
        names += reader.strings(value)
    scripts: Dict[str, str] = {}
    plugins: List[str] = []
    for value in kw.get("entry_points", []):
        groups = reader.entry_points(value)
        for line in groups.get("console_scripts", []):
            if "=" in line:
                k, v = line.split("=", 1)
                scripts.setdefault(k.strip(), v.strip())
        plugins += [line.split("=", 1)[1].strip() for line in groups.get("pytest11", []) if "=" in line]
    reqs: List[str] = []
    for value in kw.get("install_requires", []):
        reqs += reader.strings(value)
    for value in kw.get("extras_require", []):
        for pairs in reader.dicts(value):
            for _, group in pairs:
                reqs += reader.strings(group)
    name = next((s for value in kw.get("name", []) for s in reader.strings(value)[:1]), "")
    return Declared(
        name=name,
        packages=tuple(names),
        package_roots=tuple(dict.fromkeys(roots)),
        console_scripts=tuple(scripts.items()),
        requirements=tuple(reqs),
        pytest_plugins=tuple(plugins),
    )


class _SetupPy:
    """Literal values of a setup.py, following names bound at module level (every binding, so
    `try: ... else: extra = {...}` is seen whichever branch would run)."""

    def __init__(self, tree: ast.Module):
        self.tree = tree
        self.bound: Dict[str, List[ast.expr]] = {}
        for node in statements(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.bound.setdefault(target.id, []).append(node.value)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                self.bound.setdefault(node.target.id, []).append(node.value)

    def setup_call(self) -> Optional[ast.Call]:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and (dotted(node.func) or "") in _SETUP_CALLS:
                return node
        return None

    def keywords(self, call: ast.Call) -> Dict[str, List[ast.expr]]:
        out: Dict[str, List[ast.expr]] = {}
        for kw in call.keywords:
            if kw.arg is not None:
                out.setdefault(kw.arg, []).append(kw.value)
            else:  # setup(**extra)
                for pairs in self.dicts(kw.value):
                    for key, value in pairs:
                        out.setdefault(key, []).append(value)
        return out

    def _values(self, node: ast.expr, depth: int) -> List[ast.expr]:
        """The node itself, or what a module-level name is bound to (every binding)."""
        if isinstance(node, ast.Name) and depth < _MAX_DEPTH:
            return [v for bound in self.bound.get(node.id, []) for v in self._values(bound, depth + 1)]
        return [node]

    def strings(self, node: ast.expr, depth: int = 0) -> List[str]:
        out: List[str] = []
        for v in self._values(node, depth):
            if isinstance(v, ast.Constant) and isinstance(v.value, str):
                out.append(v.value)
            elif isinstance(v, (ast.List, ast.Tuple, ast.Set)):
                for elt in v.elts:
                    out += self.strings(elt, depth + 1) if depth < _MAX_DEPTH else []
            elif isinstance(v, ast.BinOp) and isinstance(v.op, ast.Add) and depth < _MAX_DEPTH:
                out += self.strings(v.left, depth + 1) + self.strings(v.right, depth + 1)
        return out

    def dicts(self, node: ast.expr, depth: int = 0) -> List[List[Tuple[str, ast.expr]]]:
        """Each dict the node may be: `{...}` or `dict(k=...)`, as (key, value) pairs."""
        out: List[List[Tuple[str, ast.expr]]] = []
        for v in self._values(node, depth):
            if isinstance(v, ast.Dict):
                pairs = []
                for k, val in zip(v.keys, v.values):
                    if k is None:  # {**other}
                        if depth < _MAX_DEPTH:
                            out += self.dicts(val, depth + 1)
                    else:
                        pairs += [(s, val) for s in self.strings(k, depth + 1)[:1]]
                out.append(pairs)
            elif isinstance(v, ast.Call) and dotted(v.func) == "dict":
                out.append([(kw.arg, kw.value) for kw in v.keywords if kw.arg is not None])
        return out

    def finder(self, node: ast.expr) -> Optional[Tuple[str, List[str], List[str], bool]]:
        """`find_packages(where, exclude, include)` as (where, include, exclude, namespace), else None."""
        for v in self._values(node, 0):
            if isinstance(v, ast.Call) and (dotted(v.func) or "").split(".")[-1] in _FINDERS:
                args: Dict[str, ast.expr] = dict(zip(("where", "exclude", "include"), v.args))
                args.update({kw.arg: kw.value for kw in v.keywords if kw.arg})
                where = self.strings(args["where"])[:1] if "where" in args else []
                return (
                    where[0] if where else ".",
                    self.strings(args["include"]) if "include" in args else [],
                    self.strings(args["exclude"]) if "exclude" in args else [],
                    (dotted(v.func) or "").endswith("find_namespace_packages"),
                )
        return None

    def entry_points(self, node: ast.expr) -> Dict[str, List[str]]:
        """group -> ["name = module:attr", ...], from a dict of lists or an ini-style string."""
        groups: Dict[str, List[str]] = {}
        for pairs in self.dicts(node):
            for group, value in pairs:
                groups.setdefault(group, []).extend(self.strings(value))
        for text in self.strings(node):
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read_string(text)
            except configparser.Error:
                continue
            for group in parser.sections():
                groups.setdefault(group, []).extend(f"{k} = {v}" for k, v in parser.items(group))
        return groups
