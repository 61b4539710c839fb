"""Configuration handed from `python -m perfscan_probe` to the pytest plugin (same process)."""

mode = "collect"  # collect | time | cpu | memory
out_dir = "."
options = {}  # extra per-mode options (e.g. memory repetitions)
recorders = []  # objects with an `emergency_dump()` method, called on SIGTERM
