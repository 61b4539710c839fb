from logstats.cli import main, summarize
from logstats.parse import parse_line, synthetic_log
from logstats.report import distinct_paths, moving_average


def test_parse_line():
    rec = parse_line("10.0.1.2 GET /api/items/7 200 512")
    assert rec["path"] == "/api/items/7" and rec["status"] == 200 and rec["tags"]["api"]


def test_distinct_paths_small():
    recs = [{"path": p} for p in ("/a", "/b", "/a")]
    assert distinct_paths(recs) == ["/a", "/b"]


def test_moving_average_small():
    assert moving_average([1, 2, 3, 4], width=2, step=1) == [1.5, 2.5, 3.5]


def test_summarize_a_day():
    summary = summarize(synthetic_log(30_000))
    assert summary["records"] == 30_000
    assert summary["paths"] > 2000
    assert summary["redacted"] == 10_000
    assert summary["averages"] > 300


def test_main_prints(capsys):
    assert main(["--demo", "300"]) == 0
    out = capsys.readouterr().out
    assert "records: 300" in out and "averages: 0" in out
