"""How the project is deployed, from real evidence: project files and imports read with `ast`.

Order of decision (specific beats general):
1. serverless configuration (serverless.yml, SAM template.yaml, zappa_settings) -> serverless
2. server evidence: Procfile / gunicorn.conf.py / Dockerfile running a server, an app object or
   WSGI callable in project code, a console script or `__main__.py` that starts a server
   (serverstart.py), a framework import with a server dependency -> long-running-server
3. a Lambda-style handler `name(event, context)` or a class whose `__call__(self, event, context)`
   is one, alone -> serverless
4. console scripts, or a `__main__` that parses arguments (argparse, click, typer, fire) -> cli;
   a loose program (a file in a folder that is not a package, such as `scripts/`) is the
   repository's tooling, not the project's CLI, and never an entry module
5. a framework import alone (no app, no server) -> long-running-server
6. an importable package -> library; else unknown
A word in a comment or a string is never evidence: imports come from the AST.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Set

from perfscan.astutil import dotted
from perfscan.models import Deployment, Project
from perfscan.serverstart import APP_CLASSES, FRAMEWORKS, SERVERS, ServerFinder
from perfscan.sources import iter_project_files, module_name, parse_source, relative_posix

APP_FACTORIES = {"get_wsgi_application", "get_asgi_application", "make_app", "web.Application"}
CLI_LIBS = {"argparse", "click", "typer", "fire", "docopt"}
_TARGET = re.compile(r"([A-Za-z_][\w.]*):([A-Za-z_][\w.]*)")


def _imports(tree: ast.AST) -> Set[str]:
    names: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def _call_name(node: ast.AST) -> str:
    return dotted(node.func if isinstance(node, ast.Call) else node) or ""


def _module_exists(module: str, project: Project) -> bool:
    rel = module.replace(".", "/")
    return any((r / (rel + ".py")).is_file() or (r / rel / "__init__.py").is_file() for r in project.source_roots)


def _server_command_targets(text: str) -> List[str]:
    """`module:attr` targets of gunicorn/uvicorn/... commands in a Procfile or Dockerfile line."""
    out = []
    for line in text.splitlines():
        words = re.split(r"[\s\"',\[\]]+", line)
        if not any(w.split("/")[-1] in SERVERS or w in ("waitress-serve",) for w in words):
            continue
        for w in words:
            m = _TARGET.fullmatch(w)
            if m and not w.startswith(("http", "0.0.0.0", "127.")):
                out.append(m.group(1))
    return out


def detect_deployment(project: Project) -> Deployment:
    root = project.root
    serverless: List[str] = []
    server_strong: List[str] = []
    server_weak: List[str] = []
    cli: List[str] = []
    handler_only: List[str] = []
    entries: Dict[str, List[str]] = {"serverless": [], "server": [], "cli": [], "handler": []}

    # --- serverless configuration files
    for name in ("serverless.yml", "serverless.yaml"):
        path = root / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            handlers = re.findall(r"^\s*handler:\s*['\"]?([\w./]+)['\"]?\s*$", text, re.M)
            serverless.append(f"{name}" + (f" (handler {', '.join(handlers)})" if handlers else ""))
            entries["serverless"] += [h.replace("/", ".").rsplit(".", 1)[0] for h in handlers if "." in h]
    for name in ("template.yaml", "template.yml"):
        path = root / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            if "AWS::Serverless" in text or "AWS::Lambda" in text:
                handlers = re.findall(r"^\s*Handler:\s*['\"]?([\w.]+)['\"]?\s*$", text, re.M)
                serverless.append(f"{name} (SAM)" + (f" (handler {', '.join(handlers)})" if handlers else ""))
                entries["serverless"] += [h.rsplit(".", 1)[0] for h in handlers if "." in h]
    for name in ("zappa_settings.json", "zappa_settings.yml", "zappa_settings.yaml"):
        path = root / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            serverless.append(name)
            entries["serverless"] += [
                m.rsplit(".", 1)[0] for m in re.findall(r"app_function\"?\s*[:=]\s*\"?([\w.]+)", text)
            ]

    # --- server configuration files
    procfile = root / "Procfile"
    if procfile.is_file():
        text = procfile.read_text(encoding="utf-8", errors="replace")
        targets = _server_command_targets(text)
        web = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("web:")]
        if targets or web:
            server_strong.append("Procfile: " + (web[0] if web else text.strip().splitlines()[0])[:120])
            entries["server"] += targets
    for name in ("gunicorn.conf.py", "gunicorn_config.py", "gunicorn.config.py"):
        path = root / name
        if path.is_file():
            server_strong.append(name)
            parsed = parse_source(path)
            if parsed.tree is not None:
                for node in parsed.tree.body:
                    if (
                        isinstance(node, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id == "wsgi_app" for t in node.targets)
                        and isinstance(node.value, ast.Constant)
                        and isinstance(node.value.value, str)
                    ):
                        entries["server"] += [m.group(1) for m in [_TARGET.fullmatch(node.value.value)] if m]
    dockerfile = root / "Dockerfile"
    if dockerfile.is_file():
        text = dockerfile.read_text(encoding="utf-8", errors="replace")
        cmd_lines = "\n".join(ln for ln in text.splitlines() if ln.strip().upper().startswith(("CMD", "ENTRYPOINT")))
        targets = _server_command_targets(cmd_lines)
        if targets:
            server_strong.append(f"Dockerfile runs a server ({targets[0]})")
            entries["server"] += targets
    for dep in project.dependencies:
        if dep in SERVERS:
            server_weak.append(f"dependency: {dep}")

    # --- project code, read with ast
    framework_imports: Dict[str, str] = {}
    finder = ServerFinder(root, project.source_roots)
    for path in iter_project_files(root):
        parsed = parse_source(path)
        if parsed.tree is None:
            continue
        rel = relative_posix(path, root) or path.name
        mod = module_name(path, project.source_roots) or ""
        loose = _is_loose_program(path, mod, project)
        imports = _imports(parsed.tree)
        # the project's own package is no third-party framework (waitress importing waitress)
        for fw in sorted(imports & (FRAMEWORKS | SERVERS) - set(project.packages)):
            framework_imports.setdefault(fw, rel)
        for node in parsed.tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                called = _call_name(node.value)
                last = called.split(".")[-1]
                if (last in APP_CLASSES or called in APP_FACTORIES or last in APP_FACTORIES) and imports & FRAMEWORKS:
                    server_strong.append(f"{rel}:{node.lineno} creates the app object ({called}())")
                    entries["server"].append(mod)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = [a.arg for a in node.args.args]
                if args == ["environ", "start_response"]:
                    server_strong.append(
                        f"{rel}:{node.lineno} defines a WSGI callable {node.name}(environ, start_response)"
                    )
                    entries["server"].append(mod)
                elif _is_handler(args):
                    handler_only.append(f"{rel}:{node.lineno} defines a handler {node.name}(event, context)")
                    entries["handler"].append(mod)
            if isinstance(node, ast.ClassDef):
                call = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__call__"), None)
                if call is not None and _is_handler([a.arg for a in call.args.args][1:]):
                    handler_only.append(
                        f"{rel}:{call.lineno} defines a handler class {node.name}.__call__(self, event, context)"
                    )
                    entries["handler"].append(mod)
            if isinstance(node, ast.If) and _is_main_guard(node.test) and imports & CLI_LIBS and not loose:
                cli.append(f"{rel}:{node.lineno} runs as a program with {', '.join(sorted(imports & CLI_LIBS))}")
                entries["cli"].append(mod)
        if path.name == "__main__.py" and not loose:
            started = finder.module_body(mod) if mod else None
            if started:
                # evidence only: importing a __main__ module runs it, and this one would serve
                server_strong.append(f"{rel} starts a server when run ({started})")
            if imports & CLI_LIBS:
                cli.append(f"{rel} is a __main__ module using {', '.join(sorted(imports & CLI_LIBS))}")
                entries["cli"].append(mod)
    for name, target in project.console_scripts:
        cli.insert(0, f"console script {name} = {target}")
        entries["cli"].insert(0, target.split(":")[0].strip())
        started = finder.entry_point(target)
        if started:
            server_strong.insert(0, f"console script {name} = {target} starts a server ({started})")
            entries["server"].insert(0, target.split(":")[0].strip())
    fw_evidence = [f"{rel} imports {fw}" for fw, rel in sorted(framework_imports.items())]

    if serverless:
        model, evidence, ent = "serverless", serverless + handler_only, entries["serverless"] + entries["handler"]
    elif server_strong or (server_weak and framework_imports):
        model, evidence, ent = "long-running-server", server_strong + server_weak + fw_evidence, entries["server"]
    elif handler_only:
        model, evidence, ent = "serverless", handler_only, entries["handler"]
    elif cli:
        model, evidence, ent = "cli", cli, entries["cli"]
    elif framework_imports or server_weak:
        model, evidence, ent = "long-running-server", fw_evidence + server_weak, []
    elif project.packages:
        model = "library"
        evidence = [
            f"importable package{'s' if len(project.packages) > 1 else ''} {', '.join(project.packages)}; "
            "no server, CLI or serverless entry point"
        ]
        ent = []
    else:
        model, evidence, ent = "unknown", ["no package, entry point or deployment file found"], []
    entry_modules = tuple(dict.fromkeys(m for m in ent if m and _module_exists(m, project)))
    return Deployment(model=model, evidence=tuple(dict.fromkeys(evidence)), entry_modules=entry_modules)


def _is_handler(args: List[str]) -> bool:
    """The AWS Lambda handler signature `(event, context)` (underscored or short spellings too)."""
    return len(args) == 2 and args[0] in ("event", "_event") and args[1] in ("context", "ctx", "_context", "_ctx")


def _is_loose_program(path: Path, module: str, project: Project) -> bool:
    """A file in a folder that is not a package (`scripts/release.py`): a program of the
    repository, run as `python scripts/release.py`, not a module of the project to import."""
    if "." not in module:
        return False  # at the top of a source root: a module the project may well install
    top = module.split(".")[0]
    return top not in project.packages and not (path.parent / "__init__.py").is_file()


def _is_main_guard(test: ast.AST) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )
