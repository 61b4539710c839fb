"""`perfscan explain [PATTERN]`: a pattern's doc from the catalog, or the list of every pattern."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from perfscan import catalog
from perfscan.commands import EXIT_OK, EXIT_USAGE
from perfscan.models import DOMAIN_TITLES


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(
        prog="perfscan explain",
        description="Describe a pattern a finding names: what it finds, why it costs, an example. "
        "With no PATTERN, list them all.",
    )
    p.add_argument("pattern", nargs="?", help="a pattern id, as in a report's Pattern column or a SARIF ruleId")
    ns = p.parse_args(list(argv))
    if ns.pattern is None:
        print(listing())
        return EXIT_OK
    try:
        pattern = catalog.get(ns.pattern)
    except KeyError:
        near = catalog.closest(ns.pattern)
        hint = f"did you mean {', '.join(near)}?" if near else "`perfscan explain` lists them all"
        print(f"perfscan: error: no pattern named {ns.pattern!r}; {hint}", file=sys.stderr)
        return EXIT_USAGE
    print(f"# {pattern.id} ({DOMAIN_TITLES.get(pattern.domain, pattern.domain)}): {pattern.title}\n")
    print(pattern.doc)
    return EXIT_OK


def listing() -> str:
    """One line per pattern: id, domain, title, in columns."""
    width = max(len(p.id) for p in catalog.PATTERNS)
    rows = [f"{'PATTERN'.ljust(width)}  {'DOMAIN':<6}  TITLE"]
    rows += [f"{p.id.ljust(width)}  {p.domain:<6}  {p.title}" for p in catalog.PATTERNS]
    return "\n".join(rows)
