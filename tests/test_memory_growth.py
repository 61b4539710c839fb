"""Per-request growth in servers, end to end: what a user of a web service must see.

- A module-level dict of large values (each a list of small dicts, about 1 MiB per entry, tens
  of MiB per run of the tests) filled by a FastAPI endpoint that TestClient runs in its worker
  thread: too big to walk whole, it is still seen growing (entry counts, sampled value sizes).
- A small WSGI service whose module-level list grows by about 20 KB per request: far under the
  1 MiB a library's growth needs, it is a finding in a server (ranked by its projected rate), and
  the Markdown report shows the growth table.
- Tests that add nothing to module-level state are not repeated.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import load_report, run_perfscan, tree_state, write_project
from test_memory_pass import make_ctx

from perfscan.passes.memory import run_memory_pass

FASTAPI_SERVICE = {
    "pyproject.toml": '[project]\nname = "reports"\nversion = "1.0"\ndependencies = ["fastapi"]\n',
    "reports/__init__.py": "",
    "reports/main.py": (
        "from fastapi import FastAPI\n"
        "\n"
        "app = FastAPI()\n"
        "REPORTS = {}\n"
        "\n"
        "\n"
        '@app.post("/reports")\n'
        "def make_report():\n"
        "    # a sync endpoint: TestClient runs it in its worker thread\n"
        "    key = len(REPORTS)\n"
        '    REPORTS[key] = [{"row": i, "name": "item-%d" % i, "qty": i % 7} for i in range(4000)]\n'
        '    return {"id": key}\n'
        "\n"
        "\n"
        '@app.get("/health")\n'
        "def health():\n"
        '    return {"ok": True}\n'
    ),
    "tests/test_reports.py": (
        "from fastapi.testclient import TestClient\n"
        "\n"
        "from reports.main import app\n"
        "\n"
        "client = TestClient(app)\n"
        "\n"
        "\n"
        "def test_reports():\n"
        "    for _ in range(30):\n"
        '        assert client.post("/reports").status_code == 200\n'
        "\n"
        "\n"
        "def test_health():\n"
        '    assert client.get("/health").json() == {"ok": True}\n'
    ),
}

WSGI_SERVICE = {
    "pyproject.toml": '[project]\nname = "notes"\nversion = "1.0"\ndependencies = ["gunicorn"]\n',
    "Procfile": "web: gunicorn notes.wsgi:application\n",
    "notes/__init__.py": "",
    "notes/wsgi.py": (
        '"""WSGI application: POST /notes keeps the note for an audit trail."""\n'
        "\n"
        "AUDIT = []\n"
        "\n"
        "\n"
        "def application(environ, start_response):\n"
        '    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))\n'
        "    AUDIT.append(body.decode() * 20)  # about 20 KB kept per request\n"
        '    start_response("200 OK", [("Content-Type", "text/plain")])\n'
        '    return [b"ok"]\n'
    ),
    "tests/test_notes.py": (
        "import io\n"
        "\n"
        "from notes.wsgi import application\n"
        "\n"
        "\n"
        "def post(text):\n"
        "    data = text.encode()\n"
        '    env = {"REQUEST_METHOD": "POST", "PATH_INFO": "/notes", "CONTENT_LENGTH": str(len(data)),\n'
        '           "wsgi.input": io.BytesIO(data)}\n'
        "    seen = []\n"
        "    body = application(env, lambda status, headers: seen.append(status))\n"
        '    return seen[0], b"".join(body)\n'
        "\n"
        "\n"
        "def test_post_notes():\n"
        "    for i in range(5):\n"
        '        assert post("n%04d " % i + "x" * 1000) == ("200 OK", b"ok")\n'
        "\n"
        "\n"
        "def test_arithmetic():\n"
        "    assert sum(range(10)) == 45\n"
    ),
}


def _growth(result, name):
    return [f for f in result.findings if f.pattern == "per-request-growth" and f.symbol == name]


def test_dict_of_large_values_filled_in_the_test_clients_thread(tmp_path):
    root = write_project(tmp_path / "reports", FASTAPI_SERVICE)
    before = tree_state(root)
    ctx = make_ctx(root, timeout=400)
    assert ctx.deployment.model == "long-running-server"
    result = run_memory_pass(ctx)
    assert tree_state(root) == before
    assert result.status == "ok", result.error
    [f] = _growth(result, "REPORTS")
    sizes = f.details["sizes_mib"]
    assert len(sizes) == 3 and sizes[0] < sizes[1] < sizes[2] and sizes[2] - sizes[0] >= 40, sizes
    assert f.details["entries"] == [30, 60, 90]
    assert (f.file, f.line) == ("reports/main.py", 4)
    [row] = [r for r in result.data.growth if r.name == "reports.main.REPORTS"]
    assert row.entries == (30, 60, 90)
    # only the test that adds to the dict is repeated
    assert any("the 1 test(s) that changed a module-level container ran 2 more times" in n for n in result.notes), (
        result.notes
    )


def test_small_steady_leak_in_a_server_is_a_finding_with_its_growth_table(tmp_path):
    root = write_project(tmp_path / "notes", WSGI_SERVICE)
    proc = run_perfscan(str(root), "--passes", "memory", "--runner", sys.executable, "--quiet", timeout=400)
    assert proc.returncode in (0, 1), proc.stderr
    report = load_report(root)
    [f] = [f for f in report["findings"] if f["pattern"] == "per-request-growth"]
    assert (f["symbol"], f["file"], f["line"]) == ("AUDIT", "notes/wsgi.py", 3)
    # 5 requests of about 20 KB per run of the tests: about 100 KB per repetition, 0.2 MiB in all
    per = f["details"]["per_repetition_mib"]
    assert 0.07 <= per <= 0.15, per
    assert f["severity"] == "critical"
    assert "per 1,000 runs of the tests, projected" in f["metric"]["label"]
    md = (root / ".codeflash" / "scan-report.md").read_text(encoding="utf-8")
    assert "Module-level values that grew across the repetitions" in md
    [line] = [ln for ln in md.splitlines() if ln.startswith("| notes.wsgi.AUDIT |")]
    assert "KiB" in line and "5 → 10 → 15" in line, line
    memory = report["passes"]["memory"]
    assert memory["status"] == "ok"
    assert json.dumps(memory["data"]["growth"])  # the JSON report carries the table too


def test_no_repetition_when_no_test_touches_module_state(tmp_path):
    files = dict(WSGI_SERVICE)
    files["tests/test_notes.py"] = "def test_arithmetic():\n    assert sum(range(10)) == 45\n"
    root = write_project(tmp_path / "quiet", files)
    result = run_memory_pass(make_ctx(Path(root)))
    assert result.status == "ok", result.error
    assert not _growth(result, "AUDIT")
    assert any("no repetition ran" in n for n in result.notes), result.notes
