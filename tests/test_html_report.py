"""The HTML report: one self-contained page, checked in a real headless browser (Debian's chromium).

The end-to-end test scans a copy of the cli_logstats corpus project with `--format html`, lets
chromium run the page's script and dump the DOM, and checks what a reader would look for: a row
per finding, the planted hotspot in the CPU chart, the slow module in the import waterfall; it
also leaves a screenshot in the scan's output folder.
"""
from __future__ import annotations

import json
import marshal
import re
import shutil
import struct
import subprocess
import sys
from html import unescape as html_unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from conftest import CORPUS, copy_project, run_perfscan
from perfscan.models import (Artifact, Deployment, Finding, Metric, PassResult, Project, RankedFinding, ScanResult,
                             Settings, Target)
from perfscan.report.html import flame_tree, render_html

MAX_PAGE_BYTES = 2 * 1024 * 1024
ODD = "<script>alert(1)</script> | `tick` <img src=x onerror=\"document.title='pwned'\">\nline two ünï 日本 </script><!--"


# Injected into a copy of the page: works its controls the way a reader would, then writes what it saw.
DRIVE_JS = r"""
(function () {
  var out = {};
  var q = function (s) { return Array.prototype.slice.call(document.querySelectorAll(s)); };
  var ranks = function () { return q("tbody.finding-group").map(function (g) { return +g.getAttribute("data-rank"); }); };
  out.initial = ranks();
  document.querySelector('button.sort[data-key="domain"]').click();
  out.byDomain = q("tbody.finding-group").map(function (g) { return g.getAttribute("data-domain"); });
  document.querySelector('button.sort[data-key="rank"]').click();
  document.querySelector('button.sort[data-key="rank"]').click();
  out.rankDesc = ranks();
  var sel = document.getElementById("f-domain");
  var hasImport = q('#f-domain option[value="import"]').length > 0;
  sel.value = hasImport ? "import" : ""; sel.dispatchEvent(new Event("change"));
  out.visibleImport = q("tbody.finding-group").filter(function (g) { return !g.hidden; })
    .map(function (g) { return g.getAttribute("data-domain"); }).filter(function (d) { return hasImport || d === "import"; });
  out.count = hasImport ? document.getElementById("findings-count").textContent : "0 of " + ranks().length;
  sel.value = ""; sel.dispatchEvent(new Event("change"));
  document.getElementById("finding-1").querySelector("button.expand").click();
  out.expanded = !document.getElementById("detail-1").hidden;
  out.hl = q(".fr.hl").map(function (b) { return b.getAttribute("data-qualname"); });
  q('.fr[data-qualname="logstats.report:distinct_paths"]')[0].click();
  out.zoomed = q(".fr").length;
  out.resetEnabled = !document.getElementById("flame-reset").disabled;
  document.getElementById("flame-reset").click();
  out.resetDisabled = document.getElementById("flame-reset").disabled;
  var pre = document.createElement("pre");
  pre.id = "drive-result";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
"""


def chromium_path() -> Optional[str]:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


needs_chromium = pytest.mark.skipif(
    chromium_path() is None,
    reason="headless chromium not found: install it with `apt-get install -y chromium` (.ci/run does this)")


def run_chromium(tmp: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    argv = [chromium_path(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={tmp / 'chromium-profile'}", *extra, url]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=str(tmp))


def dump_dom(tmp: Path, page: Path) -> str:
    proc = run_chromium(tmp, page.resolve().as_uri(), "--dump-dom")
    assert proc.returncode == 0 and "<html" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


class Elements(HTMLParser):
    """Every start tag of a document, with its attributes, and the text of <title>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: List[Tuple[str, Dict[str, str]]] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data

    def find(self, tag: Optional[str] = None, cls: Optional[str] = None, **attrs: str) -> List[Dict[str, str]]:
        out = []
        for t, a in self.tags:
            if tag and t != tag:
                continue
            if cls and cls not in a.get("class", "").split():
                continue
            if all(a.get(k.replace("_", "-")) == v for k, v in attrs.items()):
                out.append(a)
        return out


def parse(text: str) -> Elements:
    p = Elements()
    p.feed(text)
    p.close()
    return p


def png_size(path: Path) -> Tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


# ---------------------------------------------------------------------------------------------
# end to end: a real scan, a real browser


@pytest.fixture(scope="module")
def logstats_scan(tmp_path_factory):
    root = copy_project(CORPUS / "cli_logstats", tmp_path_factory.mktemp("html") / "cli_logstats")
    proc = run_perfscan(str(root), "--runner", sys.executable, "--format", "html")
    return root, proc


@pytest.mark.slow
@needs_chromium
def test_html_report_renders_in_a_browser(logstats_scan, tmp_path):
    root, proc = logstats_scan
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = root / ".codeflash"
    page = out / "scan-report.html"
    assert page.is_file(), f"no HTML report in {out}: {sorted(p.name for p in out.iterdir())}"
    assert page.stat().st_size < MAX_PAGE_BYTES, f"the page is {page.stat().st_size} bytes"
    report = json.loads((out / "scan-report.json").read_text(encoding="utf-8"))
    raw = page.read_text(encoding="utf-8")
    assert not re.search(r"""<(script|link|img|iframe)[^>]+(src|href)=["']?(https?:)?//""", raw), "the page loads something from the network"

    dom = parse(dump_dom(tmp_path, page))
    rows = dom.find("tr", cls="finding")
    assert len(rows) == len(report["findings"]) > 0
    assert [int(g["data-rank"]) for g in dom.find("tbody", cls="finding-group")] == [f["rank"] for f in report["findings"]]

    # the planted hotspot has a frame in the CPU chart (drawn by the page's script)
    frames = dom.find(cls="fr", data_qualname="logstats.report:distinct_paths")
    assert frames, "no frame for logstats.report:distinct_paths in the CPU chart"
    assert "k-project" in frames[0]["class"].split()
    assert any("k-stdlib" in a["class"].split() or "k-builtin" in a["class"].split() for a in dom.find(cls="fr")), \
        "library frames are not told apart from project frames"

    # the slow module is in the waterfall, when the import pass measured anything
    if report["passes"].get("import", {}).get("status") == "ok" and (out / "imports.json").is_file():
        assert dom.find(cls="wf-row", data_module="logstats.geoip"), "logstats.geoip is not in the waterfall"

    # the page's script at work: sorting, filtering, expanding a finding, zooming the chart
    driven = tmp_path / "driven.html"
    driven.write_text(raw.replace("</body>", f"<script>{DRIVE_JS}</script></body>"), encoding="utf-8")
    proc = run_chromium(tmp_path, driven.resolve().as_uri(), "--enable-logging=stderr", "--v=0", "--dump-dom")
    assert "Uncaught" not in proc.stderr, proc.stderr[-2000:]
    found = re.search(r'<pre id="drive-result">(.*?)</pre>', proc.stdout, re.S)
    assert found, proc.stderr[-2000:]
    got = json.loads(html_unescape(found.group(1)))
    n = len(report["findings"])
    assert got["initial"] == list(range(1, n + 1))
    assert got["rankDesc"] == list(range(n, 0, -1))
    assert got["byDomain"] == sorted(got["byDomain"])
    domains = [f["domain"] for f in report["findings"]]
    assert got["visibleImport"] == ["import"] * domains.count("import")
    assert got["count"] == f"{domains.count('import')} of {n}"
    assert got["expanded"] is True
    top = report["findings"][0]
    if top["domain"] == "cpu":
        assert got["hl"] and set(got["hl"]) == {top["qualname"]}
    assert got["zoomed"] >= 2 and got["resetEnabled"] is True and got["resetDisabled"] is True

    shot = out / "scan-report.png"
    proc = run_chromium(tmp_path, page.resolve().as_uri() + "#finding-1", f"--screenshot={shot}", "--window-size=1400,2000",
                        "--hide-scrollbars")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 20_000, "the screenshot is missing or blank"
    assert png_size(shot) == (1400, 2000)


# ---------------------------------------------------------------------------------------------
# escaping: whatever text a project brings stays text


def odd_result(root: Path) -> ScanResult:
    settings = Settings(path=root)
    project = Project(root=root, name="odd " + ODD, packages=("pkg",), source_roots=(root,), tests_dir=None,
                      console_scripts=(), dependencies=(), runner=(sys.executable,), runner_origin="test",
                      python_version="3.11.7", has_pytest=True)
    finding = Finding(domain="cpu", symbol="f" + ODD, qualname="pkg.mod:f" + ODD, module="pkg.mod",
                      file="pkg/mod.py", line=3, metric=Metric(42.0, "%", "42% " + ODD), pattern="none",
                      evidence="evidence " + ODD, estimated_impact="impact " + ODD, phase="call",
                      details={"callers": ["tests/test_x.py::test[<a|b>`c`\n]"]})
    imp = Finding(domain="import", symbol="pkg.slow", qualname="pkg.slow", module="pkg.slow", file=None, line=None,
                  metric=Metric(600.0, "ms", "600 ms self"), pattern="import-time-computation",
                  evidence=ODD, estimated_impact=ODD, phase="import", third_party=True)
    ranked = (RankedFinding(finding, 1, "critical", "critical", "note " + ODD, 8.4),
              RankedFinding(imp, 2, "info", "high", ODD, 1.2))
    passes = {"cpu": PassResult("cpu", "ok", 1.0, findings=(finding,)),
              "memory": PassResult("memory", "failed", 0.5, error="boom " + ODD),
              "import": PassResult("import", "ok", 1.0, findings=(imp,),
                                   data={"modules": [{"name": "pkg.slow" + ODD, "self_ms": 600.0, "cumulative_ms": 650.0,
                                                      "kind": "project", "imported_by": ODD}]})}
    return ScanResult(settings=settings, project=project,
                      deployment=Deployment("cli", ("evidence " + ODD,), ("pkg.cli",)),
                      target=Target(("tests/test_x.py::test[<a|b>`c`\n]",), (), "all", 1, note=ODD),
                      passes=passes, findings=ranked, date="2024-01-02", tool_version="0.1.0", warnings=(ODD,))


def test_odd_text_is_escaped(tmp_path):
    page = render_html(odd_result(tmp_path))
    # exactly two scripts (the data and the page's own), however many </script> the project's text holds
    assert len(re.findall(r"<script\b", page)) == 2
    assert "<img" not in page and "alert(1)</script>" not in page and "<!--" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "ünï 日本" in page
    # the embedded data gives the text back exactly
    m = re.search(r'<script type="application/json" id="perfscan-data">(.*?)</script>', page, re.S)
    data = json.loads(m.group(1))
    assert data["report"]["findings"][0]["evidence"] == "evidence " + ODD
    assert data["report"]["findings"][0]["qualname"] == "pkg.mod:f" + ODD
    # attributes stay attributes
    doc = parse(page)
    groups = doc.find("tbody", cls="finding-group")
    assert [g["data-qualname"] for g in groups][0] == "pkg.mod:f" + ODD
    assert doc.title.startswith("perfscan: odd <script>")


@needs_chromium
def test_odd_text_stays_text_in_a_browser(tmp_path):
    page = tmp_path / "odd.html"
    page.write_text(render_html(odd_result(tmp_path)), encoding="utf-8")
    dom_text = dump_dom(tmp_path, page)
    dom = parse(dom_text)
    assert not dom.find("img"), "project text became an element"
    assert dom.title == f"perfscan: odd {ODD} (2024-01-02)"  # the onerror= never ran
    assert len(dom.find("script")) == 2
    assert len(dom.find("tr", cls="finding")) == 2
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom_text


def test_page_without_artifacts_says_why(tmp_path):
    page = render_html(odd_result(tmp_path))
    assert "No chart:" in page  # no cpu.pstats next to the report
    assert 'data-module="pkg.slow' in page  # the waterfall falls back to the pass's module rows
    assert "boom &lt;script&gt;" in page  # the memory pass's error, escaped


# ---------------------------------------------------------------------------------------------
# the icicle chart's tree, from caller edges


def test_flame_tree_from_caller_edges(tmp_path):
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    mod = root / "pkg" / "mod.py"
    mod.write_text("class Box:\n    def work(self):\n        return [x for x in range(3)]\n\n\n"
                   "def helper():\n    pass\n\n\ndef fib(n):\n    return fib(n - 1)\n", encoding="utf-8")
    test = root / "tests" / "test_mod.py"
    test.write_text("def test_it():\n    pass\n", encoding="utf-8")
    pyfunc = ("/venv/lib/python3.11/site-packages/_pytest/python.py", 159, "pytest_pyfunc_call")
    t_it = (str(test), 1, "test_it")
    work = (str(mod), 2, "work")
    comp = (str(mod), 3, "<listcomp>")
    helper = (str(mod), 6, "helper")
    fib = (str(mod), 10, "fib")
    sort = ("~", 0, "<built-in method builtins.sorted>")
    tiny = ("~", 0, "<built-in method builtins.len>")
    stats = {
        pyfunc: (1, 1, 0.0, 10.5, {}),
        t_it: (1, 1, 0.5, 10.5, {pyfunc: (1, 1, 0.5, 10.5)}),
        work: (1, 1, 1.0, 6.0, {t_it: (1, 1, 1.0, 6.0)}),
        comp: (1, 1, 1.0, 5.0, {work: (1, 1, 1.0, 5.0)}),
        sort: (2, 2, 4.0, 4.0, {comp: (1, 1, 2.0, 2.0), helper: (1, 1, 2.0, 2.0)}),
        helper: (1, 1, 0.0, 2.0, {t_it: (1, 1, 0.0, 2.0)}),
        fib: (1, 50, 2.0, 2.0, {t_it: (1, 1, 2.0, 2.0), fib: (0, 49, 1.9, 1.9)}),
        tiny: (1, 1, 0.001, 0.001, {t_it: (1, 1, 0.001, 0.001)}),
    }
    out = root / ".codeflash"
    out.mkdir()
    (out / "cpu.pstats").write_bytes(marshal.dumps(stats))
    result = odd_result(root)
    result = ScanResult(settings=result.settings,
                        project=Project(root=root, name="proj", packages=("pkg",), source_roots=(root,), tests_dir=root / "tests",
                                        console_scripts=(), dependencies=(), runner=(sys.executable,), runner_origin="test",
                                        python_version="3.11.7", has_pytest=True),
                        deployment=result.deployment, target=result.target,
                        passes={"cpu": PassResult("cpu", "ok", 1.0, artifacts=(Artifact(out / "cpu.pstats", "profile"),))},
                        findings=(), date="2024-01-02", tool_version="0.1.0")
    tree = flame_tree(result)
    assert tree["t"] == 10.5
    (test_node,) = tree["c"]  # the harness is left out: the test is the root
    assert test_node["q"] == "tests.test_mod:test_it" and test_node["k"] == "test"
    kids = {c["q"]: c for c in test_node["c"]}
    assert set(kids) == {"pkg.mod:Box.work", "pkg.mod:helper", "pkg.mod:fib"}  # len is under 0.5%: pruned
    work_node = kids["pkg.mod:Box.work"]
    assert work_node["k"] == "project" and work_node["t"] == 6.0 and work_node["f"] == "pkg/mod.py:2"
    # the comprehension folds into its def; sorted's time is split by caller edge (2 s from each caller)
    assert [(c["q"], c["t"]) for c in work_node["c"]] == [("builtins.sorted", 2.0)]
    assert [(c["q"], c["t"]) for c in kids["pkg.mod:helper"]["c"]] == [("builtins.sorted", 2.0)]
    assert kids["pkg.mod:fib"]["c"] == []  # recursion stops at the first repeat


def test_page_size_stays_small_for_a_big_profile(tmp_path):
    """A profile with thousands of functions still makes a small page (pruning and the node cap)."""
    root = tmp_path / "big"
    root.mkdir()
    stats = {}
    prev = ("/venv/lib/python3.11/site-packages/_pytest/python.py", 1, "pytest_pyfunc_call")
    stats[prev] = (1, 1, 0.0, 100.0, {})
    def key(i):  # 50 tests, each the top of a chain of 60 library calls
        if i < 50:
            return (str(root / "tests" / "test_big.py"), i, f"test_{i}")
        return (f"/venv/lib/python3.11/site-packages/lib{i % 50}/m{i}.py", i, f"f{i}")

    for i in range(3000):
        caller = prev if i < 50 else key(i - 50)
        stats[key(i)] = (1, 1, 0.01, 2.0 * (0.98 ** (i // 50)), {caller: (1, 1, 0.01, 2.0 * (0.98 ** (i // 50)))})
    out = root / ".codeflash"
    out.mkdir()
    (out / "cpu.pstats").write_bytes(marshal.dumps(stats))
    base = odd_result(root)
    result = ScanResult(settings=base.settings, project=base.project, deployment=base.deployment, target=base.target,
                        passes={"cpu": PassResult("cpu", "ok", 1.0, artifacts=(Artifact(out / "cpu.pstats", "profile"),))},
                        findings=(), date="2024-01-02", tool_version="0.1.0")
    page = render_html(result)
    assert len(page.encode("utf-8")) < MAX_PAGE_BYTES
    tree = flame_tree(result)
    assert len(tree["c"]) == 50 and tree["c"][0]["k"] == "test"
    nodes, depth, stack = 0, 0, [(tree, 0)]
    while stack:
        node, d = stack.pop()
        nodes, depth = nodes + 1, max(depth, d)
        stack.extend((c, d + 1) for c in node["c"])
    assert nodes <= 2501 and depth <= 40
