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
