"""The probe's side of the JSON contract with the host. Bump SCHEMA_VERSION on any change of shape.

Files written into --out (each atomically, each with "schema_version"):
- collected.json  {"nodeids": [str], "errors": [str], "rootdir"}  (every pass, at collection; rootdir: pytest's)
- outcomes.json   {"tests": {nodeid: {"outcome", "seconds", "message", "done"}}, "exitstatus", "neutralized": [str],
                   "running": {"nodeid", "seconds"} (the test a SIGTERM interrupted; absent when none)}
                  (at the session's end, or on the host's SIGTERM with "exitstatus": null);
                  outcome: passed | failed | error | skipped | xfailed
- progress.jsonl  time mode: one [nodeid, {"outcome", ...}] line per finished test (not atomic: a
                  killed process may leave its last line cut)
- cpu.json        {"engine", "python", "threads", "phases": {phase: {"wall": s, "stats": [entry]}}, "errors": [str]}
                  entry = [file, line, name, cc, nc, tt, ct, [[caller_index, cc, nc, tt, ct], ...]]
                  (indexes into the same phase's stats list); the sampling engine's "samples"
                  (sampler.py, its "waits" from waiting.py), the counters' "calls" (calls.py,
                  with "sites" and "queries"), the cProfile engine's "queries" (queries.py);
                  docs/design.md "Two processes" has every shape
- time.json       {"phases": {phase: wall seconds}, "calls": <as in cpu.json> or null, "errors": [str]}
- memory.json     see memory.py
"""

import json
import os
from typing import Any, Mapping

SCHEMA_VERSION = 2  # 2: waiting samples, per-test walls, call-site counts, statements


PROGRESS = "progress.jsonl"  # time mode: one [nodeid, outcome entry] line per finished test
WORKERS_DIR = "workers"  # an xdist worker's files: <run folder>/workers/<worker id>/
WORKER_STATE = "PERFSCAN_PROBE_WORKER_STATE"  # the probe's state, for the workers pytest-xdist starts


def write_json(path: str, data: Mapping[str, Any]) -> None:
    data = dict(data)
    data["schema_version"] = SCHEMA_VERSION
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=True, separators=(",", ":"))
    os.replace(tmp, path)
