"""The deep run's cost (docs/design.md "The passes", Memory, the deep run): a step that cannot
finish in its cap is not started, and on 3.11 the deep run gives code objects their line tables
before it traces 10 frames per allocation."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import probe_on, write_project

from perfscan.passes.memory.deep import DEEP_FRAMES, FIRST_FRAMES, cannot_finish, deep_candidates, merge_deep
from perfscan.passes.memory.records import LineRow, Phase
from perfscan.passes.memory.units import MIB
from perfscan.probe import memory


def _phases(*seconds: float):
    phases = [Phase(test=f"tests/test_a.py::test_{i}", libs=2 << 20, seconds=s) for i, s in enumerate(seconds)]
    return phases, {p.key: p.seconds for p in phases}


def test_only_library_bytes_a_phase_made_itself_ask_for_a_deep_run():
    # modules an earlier test imported stay alive at every later peak; a run of this test alone
    # would not make them, so they are no reason to run it again
    old = Phase("t::old", libs=3 * MIB, libs_new=MIB // 4, snapshots=1)
    fresh = Phase("t::fresh", libs=2 * MIB, libs_new=2 * MIB, snapshots=1)
    unknown = Phase("t::unknown", libs=2 * MIB, snapshots=1)  # a record from before libs_new
    assert [p.test for p in deep_candidates([old, fresh, unknown], 1.0)] == ["t::fresh", "t::unknown"]
    row = LineRow("pkg/a.py", 3, int(1.5 * MIB), 10)
    merged, moved = merge_deep([fresh], [Phase("t::fresh", lines=(row,))])
    assert moved == int(1.5 * MIB)
    assert merged[0].libs_new == MIB // 2 and deep_candidates(merged, 1.0) == []


def test_library_bytes_the_test_run_alone_did_not_make_ask_for_no_25_frame_run():
    # the measured run's last snapshot before this phase was many tests earlier: 3 MiB of library
    # caches they left count as the phase's; run alone at 10 frames the test left 13 KB there
    phase = Phase("t::totient", libs=3 * MIB, libs_new=3 * MIB, snapshots=1)
    assert [p.test for p in deep_candidates([phase], 1.0)] == ["t::totient"]
    merged, moved = merge_deep([phase], [Phase("t::totient", libs=13_000, snapshots=1)])
    assert moved == 0 and merged[0].libs == 3 * MIB  # what was alive at the peak is still said
    assert merged[0].libs_new == 13_000 and deep_candidates(merged, 1.0) == []
    # a deep run that took no snapshot of the phase tells nothing of it
    kept, _ = merge_deep([phase], [Phase("t::totient", libs=0, snapshots=0)])
    assert deep_candidates(kept, 1.0) == [phase]


def test_library_bytes_made_by_a_modules_top_level_ask_for_no_deep_run(tmp_path):
    # a module imported during the test runs its top level (a table, a class body): a deeper
    # trace leads to an import statement; bytes made inside a library function are a call's
    lib = tmp_path / "lib.py"
    lib.write_text("TABLE = [0] * 100000\n\nclass K:\n    ROWS = list(range(9))\n\ndef build(n):\n    return [0] * n\n")
    top = Phase("t::top", libs=2 * MIB, lib_lines=((str(lib), 1, int(1.5 * MIB)), (str(lib), 4, MIB // 4)))
    call = Phase("t::call", libs=2 * MIB, lib_lines=((str(lib), 7, int(1.5 * MIB)),))
    frozen = Phase("t::frozen", libs=2 * MIB, lib_lines=(("<frozen abc>", 106, int(1.5 * MIB)),))
    assert [p.test for p in deep_candidates([top, call, frozen], 1.0)] == ["t::call", "t::frozen"]
    # a module an earlier test imported is left out once: by libs_new, not again from the phase's own share
    later = Phase(
        "t::later",
        libs=int(3.5 * MIB),
        libs_new=int(1.5 * MIB),
        lib_lines=((str(lib), 1, 2 * MIB), (str(lib), 7, int(1.5 * MIB))),
    )
    assert [p.test for p in deep_candidates([later], 1.0)] == ["t::later"]


def test_a_first_step_runs_when_half_its_phases_time_and_the_start_up_fit():
    phases, seconds = _phases(6.0, 4.0)  # 10 s at 1 frame: at least 5 s at 10 frames
    assert cannot_finish(FIRST_FRAMES, phases, seconds, 1.0, 6.5, False) == ""
    note = cannot_finish(FIRST_FRAMES, phases, seconds, 1.0, 5.5, False)
    assert note.startswith("2 test peak(s) hold 1 MiB or more in library frames; a 10-frame run of them")
    assert "would take 6.0 s or more, past the 5.5 s left of its cap" in note


def test_a_25_frame_step_needs_three_times_what_its_phases_took_at_10():
    phases, seconds = _phases(3.0)
    assert cannot_finish(DEEP_FRAMES, phases, seconds, 0.5, 9.6, True) == ""
    note = cannot_finish(DEEP_FRAMES, phases, seconds, 0.5, 9.4, True)
    assert "library frames after the 10-frame run; a 25-frame run" in note


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="line tables by offset are 3.11's")
def test_the_deep_run_traces_with_line_tables_on_3_11_and_leaves_no_profile_function(tmp_path):
    spec = tmp_path / "deep.json"
    spec.write_text(json.dumps({"phases": [["tests/test_a.py::test_a", "call", 1 << 20]]}), encoding="utf-8")
    recorder = memory.MemoryRecorder(str(tmp_path), {"root": str(tmp_path), "deep": str(spec), "frames": "10"})
    before = sys.getprofile()
    sys.setprofile(None)
    try:
        recorder.begin_run()  # the test loop's start sets it for a 10-frame run
        assert sys.getprofile() is memory._line_tables
        recorder.end_run()
        assert sys.getprofile() is None
    finally:
        sys.setprofile(before)


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="line tables by offset are 3.11's")
@pytest.mark.parametrize("frames, at_collection", [("25", "_line_tables"), ("10", "")])
def test_a_25_frame_run_has_the_line_tables_profile_function_before_the_test_runner_imports_the_tests(
    tmp_path, frames, at_collection
):
    # 25 frames reach the runner's frames below the loop; a 10-frame run starts faster without it
    seen = tmp_path / "seen.txt"
    root = write_project(
        tmp_path / "p",
        {
            "pyproject.toml": "[project]\nname = 'p'\nversion = '1'\n",
            # imported by pytest during collection, long after the probe's entry point ran
            "tests/conftest.py": f"import sys\nopen({str(seen)!r}, 'w').write(getattr(sys.getprofile(), '__name__', ''))\n",
            "tests/test_a.py": "def test_a():\n    assert True\n",
        },
    )
    spec = tmp_path / "deep.json"
    spec.write_text(json.dumps({"phases": [["tests/test_a.py::test_a", "call", 1 << 20]]}), encoding="utf-8")
    run = probe_on(root, "memory", {"root": str(root), "deep": str(spec), "frames": frames})
    assert run.child.returncode == 0, run.child.tail(20)
    assert seen.read_text(encoding="utf-8") == at_collection


def test_the_next_mark_steps_wider_once_a_phases_snapshots_took_as_long_as_its_work():
    grown = 40 * MIB
    assert memory.snapshot_step(grown, 0.05, 3, 0.2, 1.0) == 2 * MIB  # cheap snapshots: 5% of the growth
    assert memory.snapshot_step(grown, 0.2, 3, 0.4, 1.0) == 4 * MIB  # a costlier one: 10%
    assert memory.snapshot_step(grown, 0.05, 3, 1.1, 1.0) == 10 * MIB  # snapshots past the phase's own work
    assert memory.snapshot_step(2 * MIB, 0.05, 3, 1.1, 1.0) == MIB  # never below a mebibyte
