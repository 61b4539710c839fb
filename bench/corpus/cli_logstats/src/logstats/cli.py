"""Command line: logstats FILE... (or --demo N for a generated log)."""
import argparse
import sys

from .parse import parse_line, synthetic_log
from .report import distinct_paths, moving_average, redact, status_counts


def summarize(lines):
    records = [parse_line(line) for line in lines]
    paths = distinct_paths(records)
    public = redact(records[:10_000])
    averages = moving_average([rec["bytes"] for rec in records])
    return {"records": len(records), "paths": len(paths), "redacted": len(public),
            "statuses": dict(status_counts(records)), "averages": len(averages)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="logstats", description=__doc__)
    parser.add_argument("files", nargs="*")
    parser.add_argument("--demo", type=int, default=0, help="summarize a generated log of N lines")
    args = parser.parse_args(argv)
    lines = synthetic_log(args.demo) if args.demo else []
    for path in args.files:
        with open(path, encoding="utf-8") as fh:
            lines.extend(fh.read().splitlines())
    for key, value in summarize(lines).items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
