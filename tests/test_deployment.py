"""Deployment model from real evidence: files and imports read with ast."""

from __future__ import annotations

import json
import os
import sys

import pytest
from conftest import CORPUS, write_project

from perfscan.deployment import detect_deployment
from perfscan.project import discover_project
from perfscan.settings import load_settings


def detect(root):
    settings = load_settings(root, {"runner": sys.executable})
    return detect_deployment(discover_project(settings, dict(os.environ)))


@pytest.mark.parametrize("name", ["cli_logstats", "lib_mesh", "fn_resize", "srv_inventory", "clean_ledger"])
def test_corpus_models(name):
    expected = json.loads((CORPUS / name / "EXPECTED.json").read_text())["deployment"]
    dep = detect(CORPUS / name)
    assert dep.model == expected
    assert dep.evidence


def test_entry_modules_for_the_import_pass():
    assert detect(CORPUS / "cli_logstats").entry_modules == ("logstats.cli",)
    assert detect(CORPUS / "srv_inventory").entry_modules[0] == "inventory.wsgi"
    assert detect(CORPUS / "fn_resize").entry_modules == ("resize.handler",)


def test_fastapi_app_object(tmp_path):
    root = write_project(
        tmp_path, {"svc/__init__.py": "", "svc/main.py": "from fastapi import FastAPI\napp = FastAPI()\n"}
    )
    dep = detect(root)
    assert dep.model == "long-running-server"
    assert "svc.main" in dep.entry_modules
    assert any("svc/main.py:2 creates the app object" in e for e in dep.evidence)


def test_words_in_comments_and_strings_are_not_evidence(tmp_path):
    root = write_project(
        tmp_path, {"pkg/__init__.py": '# deploy with gunicorn and flask\nDOC = "import flask; app = Flask()"\n'}
    )
    assert detect(root).model == "library"


def test_lambda_handler_signature_alone(tmp_path):
    root = write_project(tmp_path, {"fn/__init__.py": "", "fn/h.py": "def handle(event, context):\n    return 1\n"})
    dep = detect(root)
    assert dep.model == "serverless" and dep.entry_modules == ("fn.h",)


def test_click_main_module_is_cli(tmp_path):
    root = write_project(
        tmp_path,
        {"tool/__init__.py": "", "tool/__main__.py": "import click\n\n@click.command()\ndef main():\n    pass\n"},
    )
    assert detect(root).model == "cli"


def test_nothing_importable_is_unknown(tmp_path):
    root = write_project(tmp_path, {"notes.txt": "hello"})
    assert detect(root).model == "unknown"


def test_lambda_handler_class_call(tmp_path):
    root = write_project(
        tmp_path,
        {
            "adapt/__init__.py": "",
            "adapt/asgi.py": (
                "class Adapter:\n    def __init__(self, app):\n        self.app = app\n\n"
                "    def __call__(self, event, context):\n        return self.app(event)\n"
            ),
            # a __call__ of another shape is no handler
            "adapt/other.py": "class Thing:\n    def __call__(self, request, response):\n        pass\n",
        },
    )
    dep = detect(root)
    assert dep.model == "serverless" and dep.entry_modules == ("adapt.asgi",)
    assert dep.evidence == ("adapt/asgi.py:5 defines a handler class Adapter.__call__(self, event, context)",)


SERVER_MAINS = {
    "uvicorn.run": "import uvicorn\n\ndef main():\n    uvicorn.run('svc.app:app', port=8000)\n",
    "hypercorn": (
        "import asyncio\nfrom hypercorn.asyncio import serve\nfrom hypercorn.config import Config\n"
        "from svc.app import app\n\ndef main():\n    asyncio.run(serve(app, Config()))\n"
    ),
    "gunicorn BaseApplication": (
        "from gunicorn.app.base import BaseApplication\n\n"
        "class Standalone(BaseApplication):\n    def load(self):\n        return None\n\n"
        "def main():\n    Standalone().run()\n"
    ),
    "serve_forever": (
        "from wsgiref.simple_server import make_server\nfrom svc.app import app\n\n"
        "def main():\n    with make_server('', 8000, app) as httpd:\n        httpd.serve_forever()\n"
    ),
    "server object": (
        "import uvicorn\n\ndef main():\n    server = uvicorn.Server(uvicorn.Config('svc.app:app'))\n    server.run()\n"
    ),
    "a helper in another module": "from svc.runner import start\n\ndef main():\n    start(8000)\n",
    "an app object's run": "from svc.app import app\n\ndef main():\n    app.run(port=5000)\n",
    # the server function as a parameter's default, so tests can pass a fake (waitress's own runner)
    "a default argument": "import sys\nfrom waitress import serve\n\ndef main(argv=sys.argv, _serve=serve):\n    _serve(None, port=8080)\n",
}


@pytest.mark.parametrize("how", sorted(SERVER_MAINS))
def test_console_script_that_starts_a_server(tmp_path, how):
    root = write_project(
        tmp_path,
        {
            "pyproject.toml": "[project]\nname = 'svc'\n[project.scripts]\nsvc = 'svc.cli:main'\n",
            "svc/__init__.py": "",
            "svc/app.py": "import flask\n\napp = flask.Flask(__name__)\n" if "app object" in how else "app = None\n",
            "svc/runner.py": "import waitress\n\ndef start(port):\n    waitress.serve(None, port=port)\n",
            "svc/cli.py": SERVER_MAINS[how],
        },
    )
    dep = detect(root)
    assert dep.model == "long-running-server", dep
    assert dep.evidence[0].startswith("console script svc = svc.cli:main starts a server ("), dep.evidence
    assert "svc.cli" in dep.entry_modules


def test_a_cli_with_a_serve_subcommand_stays_a_cli(tmp_path):
    # the subcommand is registered by decorator, not called by the entry function
    root = write_project(
        tmp_path,
        {
            "pyproject.toml": "[project]\nname = 'tool'\n[project.scripts]\ntool = 'tool.cli:cli'\n",
            "tool/__init__.py": "",
            "tool/cli.py": (
                "import click\nimport http.server\n\n@click.group()\ndef cli():\n    pass\n\n"
                "@cli.command()\ndef serve():\n    http.server.HTTPServer(('', 8000), None).serve_forever()\n"
            ),
        },
    )
    assert detect(root).model == "cli"


def test_main_module_that_starts_a_server(tmp_path):
    root = write_project(
        tmp_path,
        {"svc/__init__.py": "", "svc/__main__.py": "import uvicorn\n\nuvicorn.run('svc.app:app')\n"},
    )
    dep = detect(root)
    assert dep.model == "long-running-server"
    assert dep.evidence[0] == "svc/__main__.py starts a server when run (svc/__main__.py:3 uvicorn.run())"
    # importing a __main__ module runs it: the import pass must not start the server
    assert dep.entry_modules == ()


def test_the_projects_own_package_is_not_a_framework_import(tmp_path):
    root = write_project(
        tmp_path,
        {"waitress/__init__.py": "from waitress.server import create_server\n", "waitress/server.py": ""},
    )
    dep = detect(root)
    assert dep.model == "library", dep


def test_loose_scripts_are_not_the_cli_nor_entry_modules(tmp_path):
    root = write_project(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "scripts/release.py": "import argparse\n\nif __name__ == '__main__':\n    argparse.ArgumentParser()\n",
            "tools/__main__.py": "import argparse\nargparse.ArgumentParser()\n",
            # a program at the top of the project is a module like any other
            "manage_data.py": "import argparse\n\nif __name__ == '__main__':\n    argparse.ArgumentParser()\n",
        },
    )
    dep = detect(root)
    assert dep.model == "cli" and dep.entry_modules == ("manage_data",), dep
    assert not any("scripts/" in e or "tools/" in e for e in dep.evidence)
