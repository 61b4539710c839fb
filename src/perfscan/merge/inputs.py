"""The shards' reports, read and checked before anything is merged (docs/design.md "Sharded scans").

A shard is one CI job's ordinary scan of part of the suite. Its `scan-report.json` must be a
perfscan report of the same project, made by the same perfscan version with the same thresholds
as the others: anything else would mix figures that do not compare, so it is a usage error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Sequence, Tuple

from perfscan.errors import UsageError
from perfscan.models import ScanResult
from perfscan.report.json_report import REPORT_SCHEMA_VERSION
from perfscan.report.saved import load_report, read_report_json

ADVICE = "pass the scan-report.json of each shard's scan"


@dataclass(frozen=True)
class Shard:
    name: str  # the path as the user gave it: what every note and error names
    data: Mapping[str, Any]  # the report as written
    result: ScanResult  # the same report read into the scan's values


def _read(path: str) -> Dict[str, Any]:
    data = read_report_json(path, ADVICE)
    tool = data.get("tool")
    if not isinstance(tool, dict) or tool.get("name") != "perfscan" or not isinstance(data.get("passes"), dict):
        raise UsageError(f"{path} is not a perfscan scan report (no tool or passes); {ADVICE}")
    if data.get("schema_version") != REPORT_SCHEMA_VERSION:
        raise UsageError(
            f"{path} has report schema version {data.get('schema_version')!r}, this perfscan reads "
            f"{REPORT_SCHEMA_VERSION}; merge reports made by this perfscan version"
        )
    return data


def _project(data: Mapping[str, Any]) -> Tuple[Any, ...]:
    # the root is where each CI job checked the project out: it may differ; name and packages may not
    project = data.get("project")
    if not isinstance(project, dict):
        return (None, None, None)
    return (project.get("name"), project.get("packages"), project.get("subprojects"))


def _version(data: Mapping[str, Any]) -> Any:
    tool = data.get("tool")
    return tool.get("version") if isinstance(tool, dict) else None


# what every shard must share with the first: (what it is called in the error, how to read it)
AGREE: Tuple[Tuple[str, Callable[[Mapping[str, Any]], Any]], ...] = (
    ("project", _project),
    ("perfscan version", _version),
    ("thresholds", lambda d: d.get("thresholds")),
)


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        value = value[0]
    return json.dumps(value, sort_keys=True)[:80]


def load_shards(paths: Sequence[str]) -> List[Shard]:
    """Every shard's report, in the order given; a UsageError naming the first one that cannot be merged."""
    seen: Dict[Path, str] = {}
    shards: List[Shard] = []
    for path in paths:
        key = Path(path).resolve()
        if key in seen:
            raise UsageError(f"{path} is given twice (as {seen[key]}); pass each shard's report once")
        seen[key] = path
        data = _read(path)
        if shards:
            first = shards[0]
            for what, read in AGREE:
                if read(data) != read(first.data):
                    raise UsageError(
                        f"{path} differs from {first.name} in {what} ({_shown(read(data))} vs "
                        f"{_shown(read(first.data))}); merge scans of one project made by one perfscan "
                        "version with the same thresholds"
                    )
        try:
            result = load_report(data)
        except (ValueError, TypeError, AttributeError) as exc:
            raise UsageError(f"{path} cannot be read as a scan report ({exc}); {ADVICE}") from None
        shards.append(Shard(path, data, result))
    return shards
