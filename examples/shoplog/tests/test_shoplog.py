from shoplog.cli import demo_lines, main, run
from shoplog.summary import distinct_customers, parse


def test_parse():
    assert parse(["3,alice,EUR,1.50"]) == [(3, "alice", "EUR", 1.5)]


def test_distinct_keeps_first_seen_order():
    orders = parse(["1,b,EUR,1", "1,a,EUR,1", "2,b,EUR,1"])
    assert distinct_customers(orders) == ["b", "a"]


def test_run_demo():
    names, days, text = run(demo_lines(30_000))
    assert len(names) == 2000
    assert days == 60
    assert text.count("\n") == 2000


def test_main(capsys):
    assert main(["--demo", "100"]) == 0
    assert capsys.readouterr().out
