"""The target's pytest arguments: what a profiled run is given once tests are chosen."""

from __future__ import annotations

import pytest

from perfscan.models import Target


@pytest.mark.parametrize(
    "args, kept",
    [
        (("tests/unit",), ()),
        (("-x", "tests", "-k", "fast and not db", "tests/test_a.py::test_b"), ("-x", "-k", "fast and not db")),
        (
            ("-m", "not slow", "--tb=short", "-p", "no:randomly", "tests/"),
            ("-m", "not slow", "--tb=short", "-p", "no:randomly"),
        ),
        (("--env", "prod", "tests/"), ("--env", "prod")),  # a plugin's option and its value stay
        (("--lf", "tests/"), ("--lf",)),
    ],
)
def test_paths_give_way_to_the_chosen_node_ids(args, kept):
    chosen = ("tests/unit/test_a.py::test_one",)
    target = Target(chosen, args, "selected", 10)
    assert target.pytest_argv() == kept + chosen
    assert Target((), args, "all", 10).pytest_argv() == args  # the whole suite runs as the user said


def test_a_test_still_running_when_the_slice_ended_is_never_picked():
    from perfscan.target import pick_fast_tests

    outcomes = {
        "tests/test_a.py::test_quick": {"outcome": "passed", "seconds": 0.05, "done": True},
        "tests/test_a.py::test_hangs": {"outcome": "passed", "seconds": 0.01},  # a slow setup, then the kill
        "tests/test_a.py::test_trivial": {"outcome": "passed", "seconds": 0.0001, "done": True},
        "tests/test_integration.py::test_flow": {"outcome": "failed", "seconds": 0.2, "done": True},
    }
    assert pick_fast_tests(outcomes, 10.0) == ["tests/test_integration.py::test_flow", "tests/test_a.py::test_quick"]
