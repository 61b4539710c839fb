"""Configuration handed from `python -m perfscan_probe` to the pytest plugin (same process)."""

from typing import Any, Dict, List

mode = "collect"  # collect | time | cpu | memory
out_dir = "."
options: Dict[str, str] = {}  # extra per-mode options (e.g. memory repetitions)
recorders: List[Any] = []  # objects with an `emergency_dump()` method, called on SIGTERM
neutralized: List[str] = []  # what the driver changed in the test run for profiling, and why (outcomes.json)
# a pooled loop's fork (forkpool.py): it ends as soon as its outputs are written (Session.finish)
forked = False
