"""The HTML report: one self-contained page, drawn from the JSON report's data alone.

The acceptance test scans a small project with a planted problem in each measured domain,
deletes the artifacts the page once read (`cpu.pstats`, `imports.json`), loads the saved
`scan-report.json` and renders it: the page must be the one the scan wrote, with the ranked
findings, the waterfall rows and the memory bars. A real headless browser (Debian's chromium)
runs the page's script when it is installed.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
from html import unescape as html_unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
from conftest import SLOW_UNIQUE, assert_unchanged, run_perfscan, tree_state, write_project

from perfscan.models import (
    Deployment,
    Finding,
    Metric,
    PassResult,
    Project,
    RankedFinding,
    ScanResult,
    Settings,
    Target,
)
from perfscan.passes.imports.section import ImportSection, ModuleRow, Waterfall, WaterfallRow
from perfscan.report.html import render_html, render_html_from_json
from perfscan.report.json_report import render_json

MAX_PAGE_BYTES = 2 * 1024 * 1024
ODD = (
    "<script>alert(1)</script> | `tick` <img src=x onerror=\"document.title='pwned'\">\nline two ünï 日本 </script><!--"
)
BUSY = "import time as _t\n_s = _t.process_time()\nwhile _t.process_time() - _s < 0.15:\n    pass\n"

# a planted problem per measured domain: a quadratic dedupe, 20 MB of rows alive at a test's
# peak, and 150 ms of work when the package is imported; a JSON export puts standard-library
# frames in the CPU chart
SHOP = {
    "pyproject.toml": "[project]\nname = 'shop'\nversion = '1'\n[tool.pytest.ini_options]\ntestpaths = ['tests']\n",
    "shop/__init__.py": "from shop import catalog\n",
    "shop/catalog.py": BUSY + "PRICES = {}\n",
    "shop/core.py": "import json\n\n" + SLOW_UNIQUE + "\n\ndef build(n):\n    return [bytes(1000) for _ in range(n)]\n"
    "\n\ndef export(rows):\n    return json.dumps(rows)\n",
    "tests/test_shop.py": (
        "from shop.core import build, export, slow_unique\n\n"
        "def test_unique():\n    assert len(slow_unique([i % 2000 for i in range(20000)])) == 2000\n\n"
        "def test_build():\n    assert len(build(20000)) == 20000\n\n"
        "def test_export():\n    assert export([{'id': i, 'name': str(i)} for i in range(200000)])\n"
    ),
}
HOTSPOT = "shop.core:slow_unique"


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
  document.getElementById("finding-HOTRANK").querySelector("button.expand").click();
  out.expanded = !document.getElementById("detail-HOTRANK").hidden;
  out.hl = q(".fr.hl").map(function (b) { return b.getAttribute("data-qualname"); });
  q('.fr[data-qualname="HOTSPOT"]')[0].click();
  out.zoomed = q(".fr").length;
  out.resetEnabled = !document.getElementById("flame-reset").disabled;
  document.getElementById("flame-reset").click();
  out.resetDisabled = document.getElementById("flame-reset").disabled;
  var wallButton = document.getElementById("flame-wall");
  if (wallButton) {
    var cpuBars = q(".fr").length;
    wallButton.click();
    out.wall = { pressed: wallButton.getAttribute("aria-pressed"), bars: q(".fr").length, cpuBars: cpuBars,
                 label: document.getElementById("flame-chart").getAttribute("aria-label") };
    document.getElementById("flame-cpu").click();
    out.wall.back = q(".fr").length;
  }
  var pre = document.createElement("pre");
  pre.id = "drive-result";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
""".replace("HOTSPOT", HOTSPOT)


def chromium_path() -> Optional[str]:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


needs_chromium = pytest.mark.skipif(
    chromium_path() is None,
    reason="headless chromium not found: install it with `apt-get install -y chromium` (.ci/run does this)",
)


def run_chromium(tmp: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    argv = [
        chromium_path(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        *extra,
        url,
    ]
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


def flame_node(
    name: str, qual: str, kind: str, seconds: float, where: str = "", *children: Dict[str, Any]
) -> Dict[str, Any]:
    """A node of the CPU pass's call tree, the shape the page's script draws."""
    return {"n": name, "q": qual, "k": kind, "t": seconds, "f": where, "c": list(children)}


def shop_flame() -> Dict[str, Any]:
    """A call tree for the shop project, written by hand (the shape the CPU pass hands the reports)."""
    return flame_node(
        "all profiled code",
        "",
        "root",
        1.0,
        "",
        flame_node(
            "test_unique",
            "tests.test_shop:test_unique",
            "test",
            1.0,
            "tests/test_shop.py:3",
            flame_node(
                "slow_unique",
                HOTSPOT,
                "project",
                0.9,
                "shop/core.py:1",
                flame_node("list.append", "list.append", "builtin", 0.1),
            ),
        ),
    )


def embedded(page: str) -> Dict[str, Any]:
    m = re.search(r'<script type="application/json" id="perfscan-data">(.*?)</script>', page, re.S)
    assert m, "no data in the page"
    return json.loads(m.group(1))


# ---------------------------------------------------------------------------------------------
# end to end: a real scan, then the page from its saved JSON alone


@pytest.fixture(scope="module")
def shop_scan(tmp_path_factory) -> Path:
    root = write_project(tmp_path_factory.mktemp("html") / "shop", SHOP)
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--format", "html")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_unchanged(before, root)
    return root


def saved_report(root: Path, dest: Path) -> Dict[str, Any]:
    """The scan's output folder copied, with the artifacts the page once read deleted."""
    out = shutil.copytree(root / ".codeflash", dest)
    for name in ("cpu.pstats", "imports.json", "scan-report.html"):
        assert (out / name).is_file(), f"the scan wrote no {name}"
        (out / name).unlink()
    return json.loads((out / "scan-report.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_page_renders_from_the_saved_json_alone(shop_scan, tmp_path):
    report = saved_report(shop_scan, tmp_path / "saved")
    page = render_html_from_json(report)
    assert page == (shop_scan / ".codeflash" / "scan-report.html").read_text(encoding="utf-8"), (
        "the page from the saved JSON is not the page the scan wrote"
    )
    assert len(page.encode("utf-8")) < MAX_PAGE_BYTES
    assert not re.search(r"""<(script|link|img|iframe)[^>]+(src|href)=["']?(https?:)?//""", page), (
        "the page loads something"
    )

    dom = parse(page)
    findings = report["findings"]
    assert {(f["domain"], f["qualname"]) for f in findings} >= {
        ("cpu", HOTSPOT),
        ("memory", "shop.core:build"),
        ("import", "shop.catalog"),
    }, findings
    assert [int(g["data-rank"]) for g in dom.find("tbody", cls="finding-group")] == [f["rank"] for f in findings]
    assert len(dom.find("tr", cls="finding")) == len(findings)

    # the waterfall: the import under each top-level module, the slow one linked to its finding
    (slow,) = [f for f in findings if f["domain"] == "import" and f["module"] == "shop.catalog"]
    assert dom.find(cls="wf-row", data_module="shop")
    assert dom.find(cls="wf-row", data_module="shop.catalog", data_rank=str(slow["rank"]))
    assert "(no import tree was measured)" not in page

    # the memory bars: the project function that held the rows
    (big,) = [f for f in findings if f["domain"] == "memory" and f["qualname"] == "shop.core:build"]
    assert dom.find(cls="mem-row", data_qualname="shop.core:build")
    assert f'href="#finding-{big["rank"]}"' in page

    # the CPU chart: the pass's call tree, with the planted hotspot in it
    flame = embedded(page)["report"]["passes"]["cpu"]["data"]["flame"]
    assert dom.find(id="flame-chart") and flame["c"]
    assert "shop.core:slow_unique" in json.dumps(flame)
    assert "No chart: no profile" not in page


@pytest.mark.slow
@needs_chromium
def test_page_works_in_a_browser(shop_scan, tmp_path):
    report = saved_report(shop_scan, tmp_path / "saved")
    raw = render_html_from_json(report)
    page = tmp_path / "scan-report.html"
    page.write_text(raw, encoding="utf-8")

    dom = parse(dump_dom(tmp_path, page))
    rows = dom.find("tr", cls="finding")
    assert len(rows) == len(report["findings"]) > 0
    # the hotspot has a frame in the CPU chart (drawn by the page's script)
    frames = dom.find(cls="fr", data_qualname=HOTSPOT)
    assert frames, f"no frame for {HOTSPOT} in the CPU chart"
    assert "k-project" in frames[0]["class"].split()
    assert any("k-stdlib" in a["class"].split() or "k-builtin" in a["class"].split() for a in dom.find(cls="fr")), (
        "library frames are not told apart from project frames"
    )
    assert dom.find(cls="wf-row", data_module="shop.catalog")

    # the page's script at work: sorting, filtering, expanding a finding, zooming the chart
    driven = tmp_path / "driven.html"
    # the script expands the hotspot's finding: a CPU finding, whose function the chart highlights
    (hot,) = [f for f in report["findings"] if f["domain"] == "cpu" and f["qualname"] == HOTSPOT]
    drive = DRIVE_JS.replace("HOTRANK", str(hot["rank"]))
    driven.write_text(raw.replace("</body>", f"<script>{drive}</script></body>"), encoding="utf-8")
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
    assert "import" in domains  # the filter below has something to show
    assert got["visibleImport"] == ["import"] * domains.count("import")
    assert got["count"] == f"{domains.count('import')} of {n}"
    assert got["expanded"] is True
    assert got["hl"] and set(got["hl"]) == {HOTSPOT}
    assert got["zoomed"] >= 2 and got["resetEnabled"] is True and got["resetDisabled"] is True
    # the sampling engine measured waiting: the chart switches to wall time and back
    wall = got["wall"]
    assert wall["pressed"] == "true" and wall["label"] == "Wall time icicle chart" and wall["bars"] > 0
    assert wall["back"] == wall["cpuBars"]

    shot = tmp_path / "scan-report.png"
    proc = run_chromium(
        tmp_path,
        page.resolve().as_uri() + "#finding-1",
        f"--screenshot={shot}",
        "--window-size=1400,2000",
        "--hide-scrollbars",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 20_000, "the screenshot is missing or blank"
    assert png_size(shot) == (1400, 2000)


# ---------------------------------------------------------------------------------------------
# escaping: whatever text a project brings stays text


def odd_result(root: Path, cpu_data: Optional[Dict[str, Any]] = None) -> ScanResult:
    settings = Settings(path=root)
    project = Project(
        root=root,
        name="odd " + ODD,
        packages=("pkg",),
        source_roots=(root,),
        tests_dir=None,
        console_scripts=(),
        dependencies=(),
        runner=(sys.executable,),
        runner_origin="test",
        python_version="3.11.7",
        has_pytest=True,
    )
    finding = Finding(
        domain="cpu",
        symbol="f" + ODD,
        qualname="pkg.mod:f" + ODD,
        module="pkg.mod",
        file="pkg/mod.py",
        line=3,
        metric=Metric(42.0, "%", "42% " + ODD),
        pattern="none",
        evidence="evidence " + ODD,
        estimated_impact="impact " + ODD,
        phase="call",
        details={"callers": ["tests/test_x.py::test[<a|b>`c`\n]"]},
    )
    imp = Finding(
        domain="import",
        symbol="pkg.slow" + ODD,
        qualname="pkg.slow" + ODD,
        module="pkg.slow" + ODD,
        file=None,
        line=None,
        metric=Metric(600.0, "ms", "600 ms self"),
        pattern="import-time-computation",
        evidence=ODD,
        estimated_impact=ODD,
        phase="import",
        third_party=True,
    )
    ranked = (
        RankedFinding(finding, 1, "critical", "critical", "note " + ODD, 8.4),
        RankedFinding(imp, 2, "info", "high", ODD, 1.2),
    )
    modules = (ModuleRow("pkg.slow" + ODD, 600.0, 650.0, "project", ODD, "pkg"),)
    bars = Waterfall(
        (
            WaterfallRow("pkg" + ODD, "project", 0, 0.0, 700.0, 50.0, "pkg" + ODD),
            WaterfallRow("pkg.slow" + ODD, "project", 1, 10.0, 650.0, 600.0, "pkg" + ODD),
        ),
        700.0,
        "tree",
        7.0,
    )
    passes = {
        "cpu": PassResult("cpu", "ok", 1.0, findings=(finding,), data=cpu_data or {}),
        "memory": PassResult("memory", "failed", 0.5, error="boom " + ODD),
        "import": PassResult(
            "import", "ok", 1.0, findings=(imp,), data=ImportSection(runs=3, modules=modules, waterfall=bars)
        ),
    }
    return ScanResult(
        settings=settings,
        project=project,
        deployment=Deployment("cli", ("evidence " + ODD,), ("pkg.cli",)),
        target=Target(("tests/test_x.py::test[<a|b>`c`\n]",), (), "all", 1, note=ODD),
        passes=passes,
        findings=ranked,
        date="2024-01-02",
        tool_version="0.1.0",
        warnings=(ODD,),
    )


def odd_flame() -> Dict[str, Any]:
    return flame_node(
        "all profiled code",
        "",
        "root",
        2.0,
        "",
        flame_node("f" + ODD, "pkg.mod:f" + ODD, "project", 2.0, "pkg/mod.py:3" + ODD),
    )


def pages(result: ScanResult) -> List[str]:
    """The page of the scan, and the page of its saved JSON: both must hold."""
    return [render_html(result), render_html_from_json(json.loads(render_json(result)))]


@pytest.mark.parametrize("source", ["scan", "saved json"])
def test_odd_text_is_escaped(tmp_path, source):
    page = pages(odd_result(tmp_path, {"flame": odd_flame()}))[source == "saved json"]
    # exactly two scripts (the data and the page's own), however many </script> the project's text holds
    assert len(re.findall(r"<script\b", page)) == 2
    assert "<img" not in page and "alert(1)</script>" not in page and "<!--" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "ünï 日本" in page
    # the embedded data gives the text back exactly
    data = embedded(page)
    assert data["report"]["findings"][0]["evidence"] == "evidence " + ODD
    assert data["report"]["findings"][0]["qualname"] == "pkg.mod:f" + ODD
    assert data["report"]["passes"]["cpu"]["data"]["flame"]["c"][0]["q"] == "pkg.mod:f" + ODD
    # attributes stay attributes
    doc = parse(page)
    groups = doc.find("tbody", cls="finding-group")
    assert [g["data-qualname"] for g in groups][0] == "pkg.mod:f" + ODD
    assert doc.find(cls="wf-row", data_module="pkg.slow" + ODD, data_rank="2")
    assert doc.title.startswith("perfscan: odd <script>")


@needs_chromium
def test_odd_text_stays_text_in_a_browser(tmp_path):
    page = tmp_path / "odd.html"
    page.write_text(render_html(odd_result(tmp_path, {"flame": odd_flame()})), encoding="utf-8")
    dom_text = dump_dom(tmp_path, page)
    dom = parse(dom_text)
    assert not dom.find("img"), "project text became an element"
    assert dom.title == f"perfscan: odd {ODD} (2024-01-02)"  # the onerror= never ran
    assert len(dom.find("script")) == 2
    assert len(dom.find("tr", cls="finding")) == 2
    assert dom.find(cls="fr", data_qualname="pkg.mod:f" + ODD)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom_text


# ---------------------------------------------------------------------------------------------
# the pictures: drawn from the sections, or saying why not


def test_empty_pictures_say_why(tmp_path):
    for page in pages(odd_result(tmp_path)):
        assert "No chart: no profile: the CPU pass recorded no call tree." in page
        assert "boom &lt;script&gt;" in page  # the memory pass's error, escaped
        assert 'id="flame-chart"' not in page


def test_the_cpu_call_tree_is_drawn_and_linked_to_its_finding(tmp_path):
    for page in pages(
        odd_result(tmp_path, {"flame": odd_flame(), "wall_seconds": 2.5, "phase_seconds": {"call": 2.5}})
    ):
        assert 'id="flame-chart"' in page and 'data-wall="2.5"' in page
        assert "Profiled wall time 2.5 s (call 2.5 s); the chart spans 2.0 s" in page
        assert 'href="#flame" data-rank="1">Show in the CPU chart' in page


def test_the_chart_toggles_to_wall_time_where_waiting_was_measured(tmp_path):
    wall_tree = flame_node(
        "all profiled code",
        "",
        "root",
        3.0,
        "",
        flame_node(
            "fetch", "pkg.mod:fetch", "project", 3.0, "pkg/mod.py:3", flame_node("waiting", "waiting", "waiting", 2.5)
        ),
    )
    for page in pages(odd_result(tmp_path, {"flame": odd_flame(), "flame_wall": wall_tree})):
        assert 'id="flame-cpu" aria-pressed="true">CPU' in page and 'id="flame-wall" aria-pressed="false">Wall' in page
        assert '<span class="sw k-waiting"></span>waiting' in page
        waits = embedded(page)["report"]["passes"]["cpu"]["data"]["flame_wall"]["c"][0]["c"][0]
        assert (waits["n"], waits["k"]) == ("waiting", "waiting")
    for page in pages(odd_result(tmp_path, {"flame": odd_flame()})):
        assert 'id="flame-wall"' not in page  # no waiting measured: no toggle


def test_odd_section_data_in_a_saved_report_does_not_stop_the_page(tmp_path):
    report = json.loads(render_json(odd_result(tmp_path, {"flame": {"t": 1, "c": [{"q": ["a list"]}]}})))
    report["passes"]["import"]["data"]["waterfall"] = {"rows": [{"name": 5, "cumulative_ms": "x"}, 7], "scale_ms": 10}
    report["passes"]["memory"] = {"status": "ok", "seconds": 1, "data": {"top": [{"mib": "lots", "count": []}, "row"]}}
    page = render_html_from_json(report)
    # the CPU section is read back through its typed reader: the odd frame is dropped, not drawn
    assert embedded(page)["report"]["passes"]["cpu"]["data"]["flame"]["c"] == []
    assert parse(page).find(cls="wf-row", data_module="5")
    assert len(parse(page).find(cls="mem-row")) == 1
    assert len(parse(page).find("tr", cls="finding")) == 2
    report["passes"]["cpu"]["data"]["flame"] = "not a tree"
    assert "No chart: no profile" in render_html_from_json(report)


def test_page_stays_small_for_a_big_call_tree(tmp_path):
    """A tree at the CPU pass's limits (2,500 frames, 40 deep) still makes a small page."""

    def chain(i: int, depth: int) -> Dict[str, Any]:
        kids = [chain(i, depth + 1)] if depth < 40 else []
        return flame_node(
            f"f{i}_{depth}",
            f"lib{i}.m{depth}:f{i}_{depth}",
            "library",
            2.0 * 0.98**depth,
            f"/venv/lib/python3.11/site-packages/lib{i}/m{depth}.py:{depth}",
            *kids,
        )

    tree = flame_node("all profiled code", "", "root", 100.0, "", *(chain(i, 0) for i in range(61)))
    for page in pages(odd_result(tmp_path, {"flame": tree})):
        assert len(page.encode("utf-8")) < MAX_PAGE_BYTES
