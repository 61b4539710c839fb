"""Does an entry point start a long-running server? Read with `ast`, never run.

A console script (or a package's `__main__.py`) whose code starts a server makes the project a
server, whatever else it is: `uvicorn.run(app)`, `hypercorn.asyncio.serve(...)`, gunicorn's
`run()`, `waitress.serve`, `werkzeug.serving.run_simple`, `aiohttp.web.run_app`,
`asyncio.start_server` / `start_unix_server`, `websockets.serve`, `<anything>.serve_forever()`,
`loop.create_server(...)`, or `.run()` / `.serve()` on a server object (`uvicorn.Server(config)`,
a class built on gunicorn's `BaseApplication`, an app object such as `Flask(__name__)`).

The entry function's own code is read, and the project functions it calls or names (in its own
module, or imported from another project module), to a depth of 3. Subcommands a CLI framework
registers by decorator are not calls from the entry function, so a CLI with a `serve` command
stays a CLI unless its entry function itself starts the server.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

from perfscan.astutil import dotted, import_bindings, package_of
from perfscan.sources import parse_source, relative_posix

FRAMEWORKS = {
    "django",
    "fastapi",
    "flask",
    "starlette",
    "aiohttp",
    "tornado",
    "sanic",
    "litestar",
    "quart",
    "falcon",
    "pyramid",
    "bottle",
    "cherrypy",
}
SERVERS = {"uvicorn", "gunicorn", "daphne", "hypercorn", "waitress", "granian", "bjoern", "cheroot", "meinheld"}
APP_CLASSES = {"Flask", "FastAPI", "Starlette", "Sanic", "Litestar", "Quart", "Application", "App", "Bottle", "Falcon"}

# calls that start serving, by their resolved dotted name
SERVER_CALLS = {
    "asyncio.start_server",
    "asyncio.start_unix_server",
    "aiohttp.web.run_app",
    "werkzeug.serving.run_simple",
    "werkzeug.run_simple",
    "websockets.serve",
    "websockets.server.serve",
    "websockets.asyncio.server.serve",
    "wsgiref.simple_server.make_server",
    "http.server.test",
    "tornado.httpserver.HTTPServer",
}
SERVER_METHODS = {"serve_forever", "create_server", "create_unix_server"}  # distinctive on any object
_RUN_METHODS = {"run", "serve", "run_forever", "start"}  # on a server or app object
_DEPTH = 3

_Def = Union[ast.FunctionDef, ast.AsyncFunctionDef]


@dataclass(frozen=True)
class _Module:
    name: str
    rel: str
    tree: ast.Module
    binds: Dict[str, str]  # local name -> dotted target of its import
    defs: Dict[str, _Def]  # top-level functions
    classes: Dict[str, ast.ClassDef]
    assigned: Dict[str, ast.expr]  # top-level `name = <value>` (the last one)


class ServerFinder:
    """Answers "does this entry start a server?" for one project; modules are parsed once."""

    def __init__(self, root: Path, source_roots: Sequence[Path]):
        self.root = root
        self.source_roots = list(source_roots)
        self._modules: Dict[str, Optional[_Module]] = {}

    def entry_point(self, target: str) -> Optional[str]:
        """`module:func` (or `module:Class.method`): where it starts a server (`svc/cli.py:12
        uvicorn.run`), else None."""
        module, _, attr = target.split("[")[0].strip().partition(":")
        mod = self.module(module.strip())
        if mod is None:
            return None
        parts = attr.strip().split(".")
        fn: Optional[_Def] = mod.defs.get(parts[0])
        if len(parts) == 2 and parts[0] in mod.classes:
            fn = next((f for f in _methods(mod.classes[parts[0]]) if f.name == parts[1]), None)
        return self._search(mod, fn.body, 0, set(), _defaults(fn)) if fn is not None else None

    def module_body(self, module: str) -> Optional[str]:
        """Whether a module's top-level code (a `__main__.py`, a main guard) starts a server."""
        mod = self.module(module)
        if mod is None:
            return None
        body = [s for s in mod.tree.body if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        return self._search(mod, body, 0, set())

    def module(self, name: str) -> Optional[_Module]:
        if name in self._modules:
            return self._modules[name]
        found = None
        rel_path = name.replace(".", "/")
        for src in self.source_roots:
            for cand, is_pkg in ((src / (rel_path + ".py"), False), (src / rel_path / "__init__.py", True)):
                if cand.is_file():
                    parsed = parse_source(cand)
                    if parsed.tree is not None:
                        found = _index(name, relative_posix(cand, self.root) or cand.name, parsed.tree, is_pkg)
                    break
            if found is not None:
                break
        self._modules[name] = found
        return found

    def _search(
        self,
        mod: _Module,
        body: Sequence[ast.stmt],
        depth: int,
        seen: Set[Tuple[str, str]],
        aliases: Optional[Dict[str, str]] = None,
    ) -> Optional[str]:
        """`aliases`: the function's parameters whose default is a name (`def run(_serve=serve)`)."""
        aliases = aliases or {}
        follow: List[Tuple[_Module, _Def]] = []
        for stmt in body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Call):
                    hit = self._starts(mod, node, body, aliases)
                    if hit:
                        return f"{mod.rel}:{node.lineno} {hit}"
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    follow += self._project_function(mod, aliases.get(node.id, node.id))
        if depth >= _DEPTH:
            return None
        for target_mod, fn in follow:
            key = (target_mod.name, fn.name)
            if key in seen:
                continue
            seen.add(key)
            found = self._search(target_mod, fn.body, depth + 1, seen, _defaults(fn))
            if found:
                return found
        return None

    def _project_function(self, mod: _Module, name: str) -> List[Tuple[_Module, _Def]]:
        """The project function a name in `mod` refers to: defined there, or imported from a project module."""
        if name in mod.defs:
            return [(mod, mod.defs[name])]
        target = mod.binds.get(name, "")
        if "." in target:
            owner = self.module(target.rpartition(".")[0])
            fn = owner.defs.get(target.rpartition(".")[2]) if owner is not None else None
            if owner is not None and fn is not None:
                return [(owner, fn)]
        return []

    def _starts(self, mod: _Module, call: ast.Call, body: Sequence[ast.stmt], aliases: Mapping[str, str]) -> str:
        head, dot, rest = (dotted(call.func) or "").partition(".")
        name = _resolve(mod, aliases.get(head, head) + dot + rest)
        if name in SERVER_CALLS or (name.split(".")[0] in SERVERS and name.split(".")[-1] in ("run", "serve")):
            return f"{name}()"
        if isinstance(call.func, ast.Attribute):
            method = call.func.attr
            if method in SERVER_METHODS:
                return f".{method}()"
            if method in _RUN_METHODS:
                made = self._constructor(mod, call.func.value, body)
                if made:
                    return f"{made}(...).{method}()"
        return ""

    def _constructor(self, mod: _Module, obj: ast.expr, body: Sequence[ast.stmt]) -> str:
        """The server or app class `obj` was made from (`uvicorn.Server`, `Flask`), else ""."""
        value: Optional[ast.expr] = obj
        owner = mod
        if isinstance(obj, ast.Name):
            value = _assigned_in(body, obj.id) or mod.assigned.get(obj.id)
            if value is None and "." in mod.binds.get(obj.id, ""):  # `from svc.app import app`
                target = mod.binds[obj.id]
                other = self.module(target.rpartition(".")[0])
                if other is not None:
                    owner, value = other, other.assigned.get(target.rpartition(".")[2])
        if not isinstance(value, ast.Call):
            return ""
        name = _resolve(owner, dotted(value.func) or "")
        if name.split(".")[0] in SERVERS | FRAMEWORKS:  # uvicorn.Server(config), IOLoop.current()
            return name
        last = name.split(".")[-1]
        if last in APP_CLASSES and any(t.split(".")[0] in FRAMEWORKS for t in owner.binds.values()):
            return name
        cls = owner.classes.get(name) if "." not in name else None
        if cls is not None and any(_resolve(owner, dotted(b) or "").split(".")[0] in SERVERS for b in cls.bases):
            return name
        return ""


def _index(name: str, rel: str, tree: ast.Module, is_pkg: bool) -> _Module:
    binds = {k: v for k, v in import_bindings(tree, package_of(name, is_pkg)).unique().items() if v}
    defs: Dict[str, _Def] = {}
    classes: Dict[str, ast.ClassDef] = {}
    assigned: Dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defs[node.name] = node
        elif isinstance(node, ast.ClassDef):
            classes[node.name] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    assigned[t.id] = node.value
    return _Module(name, rel, tree, binds, defs, classes, assigned)


def _resolve(mod: _Module, name: str) -> str:
    """A dotted name with its first part replaced by what the module's imports bind it to."""
    head, _, rest = name.partition(".")
    target = mod.binds.get(head)
    return (f"{target}.{rest}" if rest else target) if target else name


def _assigned_in(body: Sequence[ast.stmt], name: str) -> Optional[ast.expr]:
    found = None
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                found = node.value
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if isinstance(item.optional_vars, ast.Name) and item.optional_vars.id == name:
                        found = item.context_expr
    return found


def _defaults(fn: _Def) -> Dict[str, str]:
    """Parameters whose default is a name: `def run(argv=None, _serve=serve)` calls `serve`
    through `_serve` unless a test passes another."""
    args = fn.args.posonlyargs + fn.args.args
    pairs = list(zip(args[len(args) - len(fn.args.defaults) :], fn.args.defaults))
    pairs += [(a, d) for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults) if d is not None]
    return {a.arg: name for a, d in pairs for name in [dotted(d)] if name}


def _methods(cls: ast.ClassDef) -> List[_Def]:
    return [n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
