#!/usr/bin/env python3
"""Score a scan's JSON report against a corpus project's EXPECTED.json.

usage: score.py EXPECTED.json SCAN-REPORT.json

Prints one line per rule (ok / MISS / FORBIDDEN / OUTSIDE, and bonus lines), then the figure
"score: M/N expected, F forbidden, X outside project". Exit 0 when every expectation is met,
nothing forbidden is reported and every cpu, memory and async finding points into the project;
1 otherwise; 2 on bad usage or unreadable input. The rule format is in bench/corpus/README.md.
Standard library only, so an external corpus can be scored the same way.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Dict, List, Mapping, Optional, Sequence

Finding = Mapping[str, Any]
Rule = Mapping[str, Any]

# path parts that say a finding points at tests, pytest or installed packages, not the project
OUTSIDE_PARTS = {"site-packages", "dist-packages", "_pytest", "pluggy", "tests", "test"}
PLACE_KEYS = ("domain", "file", "symbol", "module")


def as_list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else [value]


def symbol_matches(finding: Finding, wanted: Sequence[str]) -> bool:
    """The rule's name against the finding's symbol, its qualname, or the last part of either."""
    names = {str(finding.get("symbol") or ""), str(finding.get("qualname") or "")} - {""}
    last = {n.split(":")[-1].split(".")[-1] for n in names}
    return any(w in names or w in last for w in wanted)


def module_matches(finding: Finding, wanted: Sequence[str]) -> bool:
    module = finding.get("module") or finding.get("symbol") or ""
    return module in wanted


def file_matches(finding: Finding, wanted: Sequence[str]) -> bool:
    path = PurePosixPath(str(finding.get("file") or "")).as_posix()
    return any(path == w or path.endswith("/" + w) for w in wanted)


def rank_of(finding: Finding) -> int:
    try:
        return int(finding.get("rank"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 10**9


def matches(finding: Finding, rule: Rule, strict: bool = True) -> bool:
    """Every key the rule gives agrees; with strict=False the severity is not compared."""
    if rule.get("domain") and finding.get("domain") != rule["domain"]:
        return False
    if rule.get("file") and not file_matches(finding, as_list(rule["file"])):
        return False
    if rule.get("symbol") and not symbol_matches(finding, as_list(rule["symbol"])):
        return False
    if rule.get("module") and not module_matches(finding, as_list(rule["module"])):
        return False
    if rule.get("pattern") and finding.get("pattern") not in as_list(rule["pattern"]):
        return False
    if strict and rule.get("severity") and finding.get("severity") not in as_list(rule["severity"]):
        return False
    return True


def forbidden(finding: Finding, rule: Rule) -> bool:
    """A forbid rule: its place (and severity, when given) matches, and the finding's pattern is
    not one `pattern_other_than` allows ("none" stands for no pattern)."""
    place = {k: v for k, v in rule.items() if k not in ("pattern_other_than", "severity")}
    if not matches(finding, place, strict=False):
        return False
    if rule.get("severity") and finding.get("severity") not in as_list(rule["severity"]):
        return False
    if "pattern_other_than" in rule and (finding.get("pattern") or "none") in rule["pattern_other_than"]:
        return False
    return True


def outside_project(finding: Finding) -> bool:
    """A cpu, memory or async finding must name a project source file, relative to the root."""
    path = str(finding.get("file") or "")
    if not path or path.startswith(("/", "<", "..")) or "\\" in path:
        return True
    parts = PurePosixPath(path).parts
    return bool(OUTSIDE_PARTS.intersection(parts[:-1]))


def deployment_of(report: Mapping[str, Any]) -> Optional[str]:
    dep = report.get("deployment")
    return dep.get("model") if isinstance(dep, dict) else dep


@dataclass
class Score:
    lines: List[str] = field(default_factory=list)
    met: int = 0
    total: int = 0
    forbidden: int = 0
    outside: int = 0
    deployment_ok: bool = True

    @property
    def ok(self) -> bool:
        return self.deployment_ok and self.met == self.total and not self.forbidden and not self.outside

    @property
    def summary(self) -> str:
        return f"score: {self.met}/{self.total} expected, {self.forbidden} forbidden, {self.outside} outside project"


def score(expected: Mapping[str, Any], report: Mapping[str, Any]) -> Score:
    findings: List[Finding] = list(report.get("findings") or [])
    out = Score(total=len(expected.get("expect") or []))

    want = expected.get("deployment")
    got = deployment_of(report)
    if want and got != want:
        out.deployment_ok = False
        out.lines.append(f"MISS deployment: expected {want}, got {got}")

    for rule in expected.get("expect") or []:
        hits = [f for f in findings if matches(f, rule)]
        if rule.get("max_rank"):
            hits = [f for f in hits if rank_of(f) <= rule["max_rank"]]
        if hits:
            out.met += 1
            out.lines.append(f"ok   {json.dumps(rule)}")
            continue
        near = [f for f in findings if matches(f, {k: rule[k] for k in PLACE_KEYS if k in rule}, strict=False)]
        seen = (
            "; ".join(f"{f.get('severity')}/{f.get('pattern')}/rank {f.get('rank')}" for f in near)
            or "no finding there"
        )
        out.lines.append(f"MISS {json.dumps(rule)} -- reported: {seen}")

    for rule in expected.get("bonus") or []:
        hit = any(matches(f, rule) for f in findings)
        out.lines.append(("bonus ok   " if hit else "bonus miss ") + json.dumps(rule))

    for rule in expected.get("forbid") or []:
        for f in findings:
            if forbidden(f, rule):
                out.forbidden += 1
                out.lines.append(
                    f"FORBIDDEN {json.dumps(rule)} -- {f.get('domain')} {f.get('symbol')} "
                    f"{f.get('severity')}/{f.get('pattern')}"
                )

    for f in findings:
        if f.get("domain") in ("cpu", "memory", "async") and outside_project(f):
            out.outside += 1
            out.lines.append(f"OUTSIDE {f.get('domain')} {f.get('symbol')} {f.get('file')!r}")
    out.lines.append(out.summary)
    return out


def _load(path: str) -> Dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def main(argv: Sequence[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        expected, report = _load(argv[1]), _load(argv[2])
    except (OSError, ValueError) as exc:
        print(f"score.py: cannot read {exc}", file=sys.stderr)
        return 2
    result = score(expected, report)
    print("\n".join(result.lines))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
