"""Hot lines: every CPU (and waiting) finding names the lines its function spent its time at.

- A real scan of a small project: a function with pattern `none` (its file in Latin-1, declared
  by a coding line) and one that waits in `time.sleep`; the hottest line is named with its text
  in the Markdown, the JSON, the HTML page and the SARIF region.
- The selection rule (hotlines.py): the cap, the minimum share, a function with no line data,
  the waiting split, an unreadable file; the source text made safe.
- A saved report without the field (older JSON) reads, renders and compares as before.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import replace
from html import escape

import jsonschema
import pytest
from conftest import REPO, assert_unchanged, load_report, run_perfscan, tree_state, write_project

from perfscan.models import HotLine, hot_lines_of
from perfscan.passes.cpu.hotlines import (
    MAX_LINES,
    MAX_TEXT,
    line_text,
    loop_headers,
    select_hot_lines,
    source_lines_of,
)
from perfscan.report.html import render_html_from_json
from perfscan.report.json_report import to_dict
from perfscan.report.markdown import code_span, hot_line_text, render_markdown
from perfscan.report.sarif import render_sarif
from perfscan.report.saved import load_report as load_saved

# -- the selection rule ---------------------------------------------------------------------------


def test_at_most_the_cap_most_time_first():
    cpu = {line: 1.0 + line / 100 for line in range(10, 20)}  # ten lines of about 10% each
    hot = select_hot_lines(cpu, None, [])
    assert len(hot) == MAX_LINES == 5
    assert [h.line for h in hot] == [19, 18, 17, 16, 15]
    assert all(h.text == "" and h.wait_seconds is None for h in hot)


def test_a_line_below_the_minimum_share_is_left_out():
    hot = select_hot_lines({3: 90.0, 4: 5.5, 5: 4.5}, None, [])
    assert [(h.line, h.share_pct) for h in hot] == [(3, 90.0), (4, 5.5)]
    # time spread thin: no line carries enough to point at
    assert select_hot_lines({line: 1.0 for line in range(1, 40)}, None, []) == ()


def test_a_function_with_no_line_data_has_no_hot_lines():
    assert select_hot_lines({}, None, ["x = 1"]) == ()
    assert select_hot_lines({}, {}, ["x = 1"]) == ()
    assert select_hot_lines({2: 0.0}, {2: 0.0}, ["x = 1", "y = 2"]) == ()


def test_waiting_and_cpu_add_up_per_line_and_per_run():
    source = ["def f():", "    time.sleep(1)", "    crunch()"]
    hot = select_hot_lines({3: 2.0, 2: 0.2}, {2: 5.8}, source, runs=2)
    assert hot == (
        HotLine(2, 3.0, 75.0, 0.1, 2.9, "time.sleep(1)"),
        HotLine(3, 1.0, 25.0, 1.0, 0.0, "crunch()"),
    )


LOOPS = """\
def f(rows, seen):
    for r in rows:
        if r not in seen:
            seen.append(r)
    while seen:
        seen.pop()
    for r in rows: pass

    def inner(xs):
        for x in xs:
            print(x)
    return [r
            for r in rows]
"""


def test_a_hot_loop_header_stands_for_its_loop():
    import ast

    loops = loop_headers(ast.parse(LOOPS).body[0])
    # loops of the function only: not the nested def's, not a one-line loop, not a comprehension
    assert loops == {2: 4, 5: 6}
    hot = select_hot_lines({2: 8.0, 3: 1.0, 6: 1.0}, None, source_lines_of(LOOPS), loops=loops)
    assert [(h.line, h.end_line, h.text) for h in hot] == [
        (2, 4, "for r in rows:"),
        (3, None, "if r not in seen:"),
        (6, None, "seen.pop()"),
    ]
    assert hot_line_text(hot[0]) == "L2-4 80% `for r in rows:`"
    assert hot[0].to_json()["end_line"] == 4 and "end_line" not in hot[1].to_json()


def test_the_source_text_is_one_safe_line():
    lines = source_lines_of('x = 1\n\ty = "\x1b[31m\u202e"  \n' + "z = " + "9" * 300 + "\n")
    assert line_text(lines, 1) == "x = 1"
    assert line_text(lines, 2) == 'y = "\\x1b[31m\\u202e"'  # an escape and a bidi override shown, not obeyed
    long = line_text(lines, 3)
    assert len(long) == MAX_TEXT and long.endswith("…") and long.startswith("z = 999")
    assert line_text(lines, 99) == "" and line_text([], 1) == ""


def test_lines_are_numbered_as_the_interpreter_numbers_them():
    # a form feed is whitespace to Python, a line break to str.splitlines
    lines = source_lines_of("a = 1\fb = 2\nc = 3\n")
    assert line_text(lines, 2) == "c = 3"


def test_markdown_code_spans_hold_any_backticks():
    assert code_span("x = 1") == "`x = 1`"
    assert code_span("s = `a` + ``b``") == "``` s = `a` + ``b`` ```"
    text = hot_line_text(HotLine(7, 0.5, 80.4, 0.1, 0.4, "time.sleep(`n`)"))
    assert text == "L7 80% (64% waiting) ``time.sleep(`n`)``"
    assert hot_line_text(HotLine(7, 0.5, 80.4, 0.5, None, "")) == "L7 80%"


def test_a_line_says_it_waited_only_where_the_waiting_is_a_twentieth_of_it_or_more():
    # HotLine(line, seconds, share_pct, cpu_seconds, wait_seconds, text)
    assert hot_line_text(HotLine(11, 1.0, 100.0, 0.99, 0.01, "")) == "L11 100%"  # a CPU line on a loaded machine
    assert hot_line_text(HotLine(11, 1.0, 100.0, 0.96, 0.04, "")) == "L11 100%"
    assert hot_line_text(HotLine(11, 1.0, 100.0, 0.95, 0.05, "")) == "L11 100% (5% waiting)"
    assert hot_line_text(HotLine(11, 1.0, 10.0, 0.5, 0.05, "")) == "L11 10%"  # 0.5 points of the function
    assert hot_line_text(HotLine(11, 1.0, 20.0, 0.5, 0.05, "")) == "L11 20% (1% waiting)"


# -- saved reports, with and without the field -------------------------------------------------------


def _saved() -> dict:
    return json.loads((REPO / "tests" / "data" / "reports" / "srv_inventory.json").read_text(encoding="utf-8"))


def test_a_report_without_hot_lines_reads_and_renders_as_before():
    report = _saved()
    cpu = [f for f in report["findings"] if f["domain"] == "cpu"]
    assert cpu and all("hot_lines" not in f["details"] for f in cpu)
    result = load_saved(report)
    assert all(hot_lines_of(r.finding.details) == () for r in result.findings)
    assert "Hot lines" not in render_markdown(result)
    assert to_dict(result) == report


def test_hot_lines_read_back_as_written_and_render_escaped():
    report = _saved()
    top = report["findings"][0]
    top["details"]["hot_lines"] = [
        {"line": 16, "seconds": 0.5, "share_pct": 80.0, "cpu_seconds": 0.5, "wait_seconds": None, "text": "a<b>&'\""},
        {"line": 14, "seconds": 0.1, "share_pct": 16, "cpu_seconds": 0.1, "wait_seconds": 0, "text": ""},
    ]
    result = load_saved(json.loads(json.dumps(report)))
    assert hot_lines_of(result.findings[0].finding.details)[0] == HotLine(16, 0.5, 80.0, 0.5, None, "a<b>&'\"")
    assert to_dict(result) == report
    page = render_html_from_json(report)
    assert '<td class="ln">16</td>' in page and escape("a<b>&'\"") in page and "a<b>" not in page
    assert page.index('<td class="ln">14</td>') < page.index('<td class="ln">16</td>')  # in source order
    assert "(source not read)" in page


def test_diff_compares_a_report_without_hot_lines_with_one_that_has_them():
    from perfscan.diff import compare, to_json
    from perfscan.diff import render_markdown as render_diff

    base, head = _saved(), _saved()
    head["findings"][0]["details"]["hot_lines"] = [
        {"line": 14, "seconds": 0.5, "share_pct": 80.0, "cpu_seconds": 0.5, "wait_seconds": 0.0, "text": "x = 1"}
    ]
    changes = compare(base, head)
    assert {c.kind for c in changes} == {"unchanged"}
    assert "0 new, 0 worsened, 0 improved, 0 gone" in render_diff(changes)
    written = json.loads(to_json(compare(head, base)))
    texts = [c["base"]["details"].get("hot_lines") for c in written["changes"] if c["base"]]
    assert [
        {"line": 14, "seconds": 0.5, "share_pct": 80.0, "cpu_seconds": 0.5, "wait_seconds": 0.0, "text": "x = 1"}
    ] in texts


# -- a real scan --------------------------------------------------------------------------------------

BOOKS = (
    "# -*- coding: latin-1 -*-\n"
    '"""Ledger totals (prix en \xe9cus)."""\n'
    "import math\n"
    "\n"
    "\n"
    "def weigh(rows):\n"
    "    total = 0.0\n"
    "    n = 0\n"
    "    for price, qty in rows:\n"
    "        n += 1\n"
    '        total += math.sqrt(price * qty) * math.log1p(price) / (qty + 0.5) - math.cos(price) * "\xe9cu".count("\xe9")\n'
    "    if n == 0:\n"
    "        return 0.0\n"
    "    return total / n\n"
)
HOT_TEXT = (
    'total += math.sqrt(price * qty) * math.log1p(price) / (qty + 0.5) - math.cos(price) * "\xe9cu".count("\xe9")'
)

LEDGER = {
    "pyproject.toml": '[project]\nname = "ledger"\nversion = "0.1"\n\n[tool.pytest.ini_options]\npythonpath = ["src"]\n',
    "src/ledger/__init__.py": "",
    "src/ledger/clock.py": (
        "import time\n"
        "\n"
        "\n"
        "def settle(batches):\n"
        "    done = 0\n"
        "    for b in range(batches):\n"
        "        time.sleep(0.004)\n"
        "        done += b\n"
        "    return done\n"
    ),
    "tests/test_books.py": (
        "from ledger.books import weigh\n"
        "from ledger.clock import settle\n"
        "\n"
        "\n"
        "def test_weigh():\n"
        "    rows = [(float(i % 97) + 1.0, float(i % 13)) for i in range(60000)]\n"
        "    for _ in range(8):\n"
        "        assert weigh(rows) > 0\n"
        "\n"
        "\n"
        "def test_settle():\n"
        "    assert settle(150) == sum(range(150))\n"
    ),
}


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    root = write_project(tmp_path_factory.mktemp("hot") / "ledger", LEDGER)
    (root / "src" / "ledger" / "books.py").write_bytes(BOOKS.encode("latin-1"))
    before = tree_state(root)
    proc = run_perfscan(
        str(root), "--passes", "cpu", "--cpu-engine", "sample", "--runner", sys.executable, "--format", "sarif,html"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_unchanged(before, root)
    return root


@pytest.mark.slow
def test_the_hottest_line_of_a_function_with_no_pattern_is_named_in_every_format(ledger):
    out = ledger / ".codeflash"
    found = {f["symbol"]: f for f in load_report(ledger)["findings"]}
    weigh = found["weigh"]
    assert weigh["pattern"] == "none" and weigh["line"] == 6  # the finding itself points at the def
    top = weigh["details"]["hot_lines"][0]
    assert top["line"] == 11 and top["text"] == HOT_TEXT and top["share_pct"] >= 50
    md = (out / "scan-report.md").read_text(encoding="utf-8")
    block = md[md.index("ledger.books:weigh —") :]
    hot_md = next(line for line in block.splitlines() if line.startswith("- Hot lines: "))
    # the line's waiting is named only where it is a real part of it (not on a loaded machine's CPU line)
    assert re.match(rf"- Hot lines: L11 {top['share_pct']:.0f}%( \(\d+% waiting\))? `{re.escape(HOT_TEXT)}`", hot_md), (
        hot_md
    )
    page = (out / "scan-report.html").read_text(encoding="utf-8")
    assert '<td class="ln">11</td>' in page and f"<code>{escape(HOT_TEXT)}</code>" in page
    sarif = json.loads((out / "scan-report.sarif").read_text(encoding="utf-8"))
    jsonschema.validate(sarif, json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text()))
    result = next(r for r in sarif["runs"][0]["results"] if r["properties"]["qualname"] == "ledger.books:weigh")
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 11, "snippet": {"text": HOT_TEXT}}
    assert result["relatedLocations"][0]["physicalLocation"]["region"] == {"startLine": 6}


@pytest.mark.slow
def test_a_waiting_function_names_the_line_it_waited_at(ledger):
    settle = {f["symbol"]: f for f in load_report(ledger)["findings"]}["settle"]
    top = settle["details"]["hot_lines"][0]
    assert top["line"] == 7 and top["text"] == "time.sleep(0.004)"
    assert top["wait_seconds"] > 0.8 * top["seconds"]  # its time there is waiting, not CPU
    md = (ledger / ".codeflash" / "scan-report.md").read_text(encoding="utf-8")
    assert "- Hot lines: L7 " in md and "waiting) `time.sleep(0.004)`" in md


def test_the_report_writers_render_what_a_scan_holds():
    # HotLine values from a scan (not JSON objects) render the same in every format
    report = _saved()
    result = load_saved(report)
    hot = (HotLine(15, 0.3, 60.0, 0.3, 0.0, "x = `y`"),)
    top = result.findings[0]
    finding = replace(top.finding, details={**top.finding.details, "hot_lines": hot})
    result = replace(result, findings=(replace(top, finding=finding),))
    assert "- Hot lines: L15 60% `` x = `y` ``" in render_markdown(result)
    sarif = json.loads(render_sarif(result))
    # a named pattern keeps its line as the region; the hot line is related
    res = sarif["runs"][0]["results"][0]
    assert res["locations"][0]["physicalLocation"]["region"] == {"startLine": 14}
    assert res["relatedLocations"][0]["physicalLocation"]["region"] == {"startLine": 15, "snippet": {"text": "x = `y`"}}
    assert to_dict(result)["findings"][0]["details"]["hot_lines"][0]["text"] == "x = `y`"
