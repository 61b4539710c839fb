"""The `-X importtime` parser, on output captured from real interpreters and on noise.

py3.9_json_email.txt and py3.13_json_email.txt: `python -X importtime -c "import json, email.mime.text"`
with a warm bytecode cache, from /root/.pyenv/versions/3.9.18 and 3.13.0. py3.14_importtime2.txt is
hand-written from CPython 3.14's documented `-X importtime=2` format: already-loaded modules get
`cached` in both columns, and CPython prints their names right-aligned in the indentation field
(`%*s`), so a short name is padded and a long one is not indented at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfscan.passes.imports.importtime import ImportNode, find_root, flatten, parse_importtime, parse_line

DATA = Path(__file__).parent / "data" / "importtime"


def load(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def shape(node: ImportNode) -> dict:
    return {node.name: [shape(c) for c in node.children]}


def by_name(roots, name):
    for node, _ in flatten(roots):
        if node.name == name:
            return node
    raise AssertionError(name)


@pytest.mark.parametrize(
    "fixture, json_cum, decoder_self, decoder_cum, text_cum",
    [
        ("py3.9_json_email.txt", 12376, 661, 11282, 27859),
        ("py3.13_json_email.txt", 13046, 645, 12071, 18874),
    ],
)
def test_real_output_nests_by_indentation(fixture, json_cum, decoder_self, decoder_cum, text_cum):
    roots = parse_importtime(load(fixture))
    json_root = find_root(roots, "json")
    assert json_root is not None and json_root.depth == 0
    assert json_root.cumulative_us == json_cum
    assert [c.name for c in json_root.children] == ["json.decoder", "json.encoder"]
    decoder = json_root.children[0]
    assert (decoder.self_us, decoder.cumulative_us, decoder.depth) == (decoder_self, decoder_cum, 1)
    assert [c.name for c in decoder.children] == ["re", "json.scanner"]
    scanner = decoder.children[1]
    assert [c.name for c in scanner.children] == ["_json"] and scanner.children[0].depth == 3

    text = find_root(roots, "email.mime.text")
    assert text.cumulative_us == text_cum
    # a submodule import pulls its packages in below it
    mime = text.children[0]
    assert mime.name == "email.mime" and [c.name for c in mime.children] == ["email"]


@pytest.mark.parametrize("fixture", ["py3.9_json_email.txt", "py3.13_json_email.txt"])
def test_every_line_becomes_one_node_and_cumulative_covers_children(fixture):
    text = load(fixture)
    timed = [ln for ln in text.splitlines() if parse_line(ln) is not None]
    nodes = [n for n, _ in flatten(parse_importtime(text))]
    assert len(nodes) == len(timed)
    for node in nodes:
        assert node.cumulative_us >= node.self_us
        # each figure is rounded down to a microsecond on its own
        parts = node.self_us + sum(c.cumulative_us for c in node.children)
        assert abs(node.cumulative_us - parts) <= len(node.children) + 1
        for child in node.children:
            assert child.depth == node.depth + 1


def test_python314_importtime2_cached_lines():
    roots = parse_importtime(load("py3.14_importtime2.txt"))
    assert [r.name for r in roots] == ["json"]
    json_root = roots[0]
    assert json_root.cumulative_us == 6777
    # timed structure unaffected by the cached lines
    timed = {n.name for n, _ in flatten(roots) if not n.cached}
    assert timed == {"json", "json.decoder", "re", "enum", "types", "copyreg", "json.scanner", "_json", "json.encoder"}
    decoder = by_name(roots, "json.decoder")
    assert [(c.name, c.cached) for c in decoder.children] == [
        ("re", False),
        ("json", True),
        ("json.scanner", False),
        ("_json", True),
    ]
    scanner = by_name(roots, "json.scanner")
    assert [(c.name, c.cached) for c in scanner.children] == [("re", True), ("_json", False)]
    enum = by_name(roots, "enum")
    assert [(c.name, c.cached) for c in enum.children] == [("types", False), ("sys", True)]
    encoder = by_name(roots, "json.encoder")
    assert [(c.name, c.cached) for c in encoder.children] == [("re", True), ("_json", True)]
    assert [(c.name, c.cached) for c in json_root.children] == [
        ("json.decoder", False),
        ("json.encoder", False),
        ("codecs", True),
    ]
    cached = [n for n, _ in flatten(roots) if n.cached]
    assert all(n.self_us == 0 and n.cumulative_us == 0 and not n.children for n in cached)


def test_cached_lines_indented_like_timed_ones_are_read_as_indentation():
    # the style of the proposal on discuss.python.org: cached names indented like timed ones
    text = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time: cached    | cached     |     _io",
            "import time:       151 |        151 |     _wmi",
            "import time:     18290 |      18440 |   platform",
            "import time: cached    | cached     |   os",
            "import time:     10955 |      29766 | uuid",
        ]
    )
    roots = parse_importtime(text)
    assert shape(roots[0]) == {"uuid": [{"platform": [{"_io": []}, {"_wmi": []}]}, {"os": []}]}


def test_noise_is_ignored():
    text = "\n".join(
        [
            "hello from the package",
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 |   child",
            "/x/mod.py:3: DeprecationWarning: something",
            "  warnings.warn('something')",
            "import time:   not a number |  1 | x",
            "import time: cached | 12 | half-cached",
            "partial lineimport time:        50 |        150 | parent",
            "Traceback (most recent call last):",
            '  File "<string>", line 1, in <module>',
            "ValueError: boom",
        ]
    )
    roots = parse_importtime(text)
    assert shape(roots[0]) == {"parent": [{"child": []}]}
    assert roots[0].cumulative_us == 150
    assert len(roots) == 1


def test_find_root_takes_the_target_not_what_the_traceback_imported():
    # Python 3.13 imports traceback & co. after a failing import, at depth 0
    text = "\n".join(
        [
            "import time:       100 |        100 |   pk",
            "import time:       331 |        431 | pk.bad",
            "import time:      1000 |       1000 | traceback",
        ]
    )
    roots = parse_importtime(text)
    assert find_root(roots, "pk.bad").cumulative_us == 431
    assert find_root(roots, "missing") is None


def test_broken_indentation_still_gives_a_consistent_tree():
    text = "\n".join(
        [
            "import time:        10 |         10 |           deep",  # depth 5, no parents in between
            "import time:        20 |         30 | top",
            "import time:         5 |          5 |     orphan",  # output cut off: never adopted
        ]
    )
    roots = parse_importtime(text)
    assert [r.name for r in roots] == ["top", "orphan"]
    assert roots[0].children[0].depth == 1 and roots[1].depth == 0


def test_empty_and_header_only():
    assert parse_importtime("") == []
    assert parse_importtime("import time: self [us] | cumulative | imported package\n") == []


def test_to_dict_is_plain_data():
    roots = parse_importtime(load("py3.13_json_email.txt"))
    doc = find_root(roots, "json").to_dict()
    assert doc["name"] == "json" and doc["children"][0]["name"] == "json.decoder"
    assert set(doc) == {"name", "self_us", "cumulative_us", "cached", "children"}


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_on_arbitrary_text(text):
    roots = parse_importtime(text)
    for node, _ in flatten(roots):
        assert isinstance(node.name, str) and node.self_us >= 0


line = st.builds(
    lambda a, b, indent, name, cached: (
        f"import time: cached    | cached     | {' ' * indent}{name}"
        if cached
        else f"import time: {a:9d} | {b:10d} | {' ' * indent}{name}"
    ),
    st.integers(0, 10**7),
    st.integers(0, 10**7),
    st.integers(0, 40),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,20}", fullmatch=True),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(line, st.text()), max_size=60))
def test_well_formed_lines_mixed_with_garbage_all_land_in_the_tree(lines):
    text = "\n".join(lines)
    roots = parse_importtime(text)
    expected = sum(1 for chunk in lines for ln in chunk.splitlines() if parse_line(ln) is not None)
    nodes = [n for n, _ in flatten(roots)]
    assert len(nodes) == expected
    for node in nodes:
        for child in node.children:
            assert child.depth == node.depth + 1
        node.to_dict()


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_a_findings_label_agrees_with_its_stored_value(ms):
    # The JSON value and the Markdown label are read side by side: 363.45 ms once read
    # "363 ms self" beside a value of 363.5.
    from perfscan.passes.imports.findings import _ms

    metric = _ms(ms, "self")
    assert metric.value == round(ms, 1)
    assert metric.label == f"{metric.value:.0f} ms self"


# ---- the wait for a core, taken out of a measured run (measure.py)


def test_a_runs_share_is_the_part_of_its_import_it_ran():
    from perfscan.passes.imports.measure import MIN_RUN_SHARE, RUNQUEUE_MARK, run_share

    # 300 ms of a 600 ms import waiting for a core: the import ran half of it
    text = f"import time: 10 | 600000 | mod\n{RUNQUEUE_MARK} 1000000 301000000\n"
    assert run_share(text, 600_000) == pytest.approx(0.5)
    assert run_share("import time: 10 | 600000 | mod\n", 600_000) == 1.0  # no line: nothing to take out
    assert run_share(f"{RUNQUEUE_MARK} x y\n", 600_000) == 1.0
    assert run_share(f"{RUNQUEUE_MARK} 5 5\n", 600_000) == 1.0
    # a wait longer than the import (a clock gone wrong) never makes the import look free
    assert run_share(f"{RUNQUEUE_MARK} 0 900000000\n", 600_000) == MIN_RUN_SHARE


def test_each_run_is_scaled_before_the_minimum_is_taken():
    from perfscan.passes.imports.measure import TargetRuns

    def run(cumulative_us: int) -> ImportNode:
        root = ImportNode("pkg", 100, cumulative_us, 0)
        root.children.append(ImportNode("pkg.table", cumulative_us - 100, cumulative_us - 100, 1))
        return root

    target = TargetRuns("pkg")
    target.add_run(run(800_000), 0.5)  # 800 ms on a busy machine, half of it waiting for a core
    target.add_run(run(500_000), 1.0)  # 500 ms on a quiet one
    assert target.min_cumulative["pkg"] == 400_000
    assert target.min_self["pkg.table"] == 399_950


@pytest.mark.skipif(not Path("/proc/self/schedstat").exists(), reason="the scheduler's statistics are Linux's")
def test_the_measured_script_reports_the_wait_and_keeps_the_import_error_last(tmp_path):
    import subprocess
    import sys

    from perfscan.passes.imports.measure import MEASURED_SCRIPT, RUNQUEUE_MARK, exception_line, run_share

    (tmp_path / "fine.py").write_text("TABLE = [i * i for i in range(1000)]\n", encoding="utf-8")
    (tmp_path / "broken.py").write_text("raise ValueError('no table')\n", encoding="utf-8")
    runs = {}
    for name in ("fine", "broken"):
        script = MEASURED_SCRIPT.format(module=name, mark=RUNQUEUE_MARK)
        runs[name] = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
    fine = runs["fine"].stderr
    root = find_root(parse_importtime(fine), "fine")
    assert root is not None and root.children == []  # the reads of the clock imported nothing
    mark = [ln for ln in fine.splitlines() if ln.startswith(RUNQUEUE_MARK)]
    assert len(mark) == 1 and all(f.isdigit() for f in mark[0].split()[1:]), fine
    assert 0 < run_share(fine, root.cumulative_us) <= 1.0
    broken = runs["broken"]
    assert broken.returncode == 1 and RUNQUEUE_MARK in broken.stderr
    assert exception_line(broken.stderr) == "ValueError: no table"
