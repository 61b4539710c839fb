"""A saved `scan-report.json` read back into the scan's values (`load_report`).

The JSON writer (`json_report.to_dict`) is the reference: for every field it writes,
`to_dict(load_report(d)) == d`. What the JSON does not hold (most settings, the project's
runner and source roots, a finding's `hot_path`) takes its default. A missing key takes its
default too, so a hand-written or partial report (two findings to compare) still loads.

A pass's section data becomes its typed section class where the domain has one (`SECTIONS`);
any other domain keeps the JSON object as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from perfscan.models import (
    DEFAULT_THRESHOLDS,
    Artifact,
    Deployment,
    Driver,
    Finding,
    Metric,
    PassResult,
    Project,
    RankedFinding,
    ScanResult,
    Settings,
    Target,
    Thresholds,
    hot_lines_of,
)
from perfscan.passes.async_pass.section import AsyncSection
from perfscan.passes.cpu.section import CpuSection
from perfscan.passes.imports.section import ImportSection
from perfscan.passes.memory.section import MemorySection
from perfscan.report.json_report import REPORT_SCHEMA_VERSION

# domain -> the reader of its section's JSON; one line per domain with a typed section
SECTIONS: Dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "cpu": CpuSection.from_json,
    "memory": MemorySection.from_json,
    "import": ImportSection.from_json,
    "async": AsyncSection.from_json,
}


def _obj(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _list(data: Mapping[str, Any], key: str) -> List[Any]:
    value = data.get(key)
    return list(value) if isinstance(value, (list, tuple)) else []


def _strs(data: Mapping[str, Any], key: str) -> Tuple[str, ...]:
    return tuple(str(x) for x in _list(data, key))


def _number(value: Any, default: float = 0.0) -> float:
    # kept as written (an int stays an int): the report reads the same when written again
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _optional_str(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def section_from_json(domain: str, data: Any) -> Any:
    """A pass's section: its typed class when there is one; an empty or untyped section as written."""
    reader = SECTIONS.get(domain)
    if reader is None or not isinstance(data, Mapping) or not data:
        return data
    return reader(data)


def _details(d: Mapping[str, Any]) -> Dict[str, Any]:
    """A finding's details as the scan holds them: hot lines as HotLine values (a report older
    than the field has none, and reads as it did)."""
    out = dict(d)
    if isinstance(out.get("hot_lines"), list):
        out["hot_lines"] = hot_lines_of(out)
    return out


def ranked_finding(d: Mapping[str, Any]) -> RankedFinding:
    """One entry of the report's `findings`."""
    metric = _obj(d, "metric")
    line = d.get("line")
    finding = Finding(
        domain=str(d.get("domain") or ""),
        symbol=str(d.get("symbol") or ""),
        qualname=str(d.get("qualname") or ""),
        module=_optional_str(d.get("module")),
        file=_optional_str(d.get("file")),
        line=line if isinstance(line, int) and not isinstance(line, bool) else None,
        metric=Metric(_number(metric.get("value")), str(metric.get("unit") or ""), str(metric.get("label") or "")),
        pattern=str(d.get("pattern") or "none"),
        evidence=str(d.get("evidence") or ""),
        estimated_impact=str(d.get("estimated_impact") or ""),
        phase=str(d.get("phase") or ""),
        runtime_confirmed=bool(d.get("runtime_confirmed")),
        details=_details(_obj(d, "details")),
    )
    severity = str(d.get("severity") or "info")
    rank = d.get("rank")
    return RankedFinding(
        finding=finding,
        rank=rank if isinstance(rank, int) else 0,
        severity=severity,
        base_severity=str(d.get("base_severity") or severity),
        note=str(d.get("note") or ""),
        magnitude=_number(d.get("magnitude")),
    )


def ranked_findings(report: Mapping[str, Any]) -> Tuple[RankedFinding, ...]:
    return tuple(ranked_finding(f) for f in _list(report, "findings") if isinstance(f, Mapping))


def _thresholds(report: Mapping[str, Any]) -> Thresholds:
    table = _obj(report, "thresholds")
    if not table:
        return DEFAULT_THRESHOLDS
    return Thresholds(
        tuple(
            (
                str(domain),
                tuple((float(bound), str(sev)) for sev, bound in levels.items() if isinstance(bound, (int, float))),
            )
            for domain, levels in table.items()
            if isinstance(levels, Mapping)
        )
    )


def _pass(name: str, p: Mapping[str, Any], findings: Tuple[RankedFinding, ...]) -> PassResult:
    return PassResult(
        domain=name,
        status=str(p.get("status") or "ok"),
        seconds=_number(p.get("seconds")),
        error=str(p.get("error") or ""),
        findings=tuple(r.finding for r in findings if r.finding.domain == name),
        artifacts=tuple(Artifact(Path(str(a)), "") for a in _list(p, "artifacts")),
        notes=_strs(p, "notes"),
        data=section_from_json(name, p.get("data", {})),
    )


def _driver(value: Any) -> Driver:
    """The test runner of the report (null when none ran the tests; absent from earlier reports)."""
    if not isinstance(value, Mapping):
        return Driver("", "")
    return Driver(str(value.get("name") or ""), str(value.get("why") or ""), str(value.get("django_settings") or ""))


def read_report_json(path: str, advice: str) -> Dict[str, Any]:
    """A saved scan-report.json as written; a UsageError ending in `advice` when the file cannot be
    read, is not JSON, or has no findings (`perfscan diff` and `perfscan merge` read them so)."""
    from perfscan.errors import UsageError

    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise UsageError(f"cannot read {path} ({exc.strerror or exc}); {advice}") from None
    except ValueError:
        raise UsageError(f"{path} is not JSON; {advice}") from None
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise UsageError(f"{path} is not a perfscan scan report (no findings); {advice}")
    return data


def load_report(report: Mapping[str, Any]) -> ScanResult:
    """The scan a `scan-report.json` describes. Raises ValueError for a schema this version cannot read."""
    version = report.get("schema_version")
    if version is not None and version != REPORT_SCHEMA_VERSION:
        raise ValueError(f"report schema version {version!r}; this perfscan reads version {REPORT_SCHEMA_VERSION}")
    project, dep, target = _obj(report, "project"), _obj(report, "deployment"), _obj(report, "target")
    root = Path(str(project.get("root") or "."))
    findings = ranked_findings(report)
    passes = {
        str(name): _pass(str(name), p, findings) for name, p in _obj(report, "passes").items() if isinstance(p, Mapping)
    }
    return ScanResult(
        settings=Settings(path=root, passes=tuple(passes), thresholds=_thresholds(report)),
        project=Project(
            root=root,
            name=str(project.get("name") or root.name),
            packages=_strs(project, "packages"),
            source_roots=(),
            tests_dir=None,
            console_scripts=(),
            dependencies=(),
            runner=(),
            runner_origin="",
            python_version=str(report.get("python") or ""),
            has_pytest=False,
            subprojects=_strs(project, "subprojects"),
        ),
        deployment=Deployment(
            model=str(dep.get("model") or "unknown"),
            evidence=_strs(dep, "evidence"),
            entry_modules=_strs(dep, "entry_modules"),
        ),
        target=Target(
            tests=_strs(target, "tests"),
            pytest_args=_strs(target, "pytest_args"),
            mode=str(target.get("mode") or "none"),
            collected=int(_number(target.get("collected"), 0)),
            note=str(target.get("note") or ""),
            exec_command=_strs(target, "exec"),
            neutralized=_strs(target, "changed"),
            left_out=tuple(
                (str(x.get("test") or ""), str(x.get("reason") or ""))
                for x in _list(target, "left_out")
                if isinstance(x, Mapping)
            ),
            driver=_driver(target.get("test_runner")),
        ),
        passes=passes,
        findings=findings,
        date=str(report.get("date") or ""),
        tool_version=str(_obj(report, "tool").get("version") or ""),
        warnings=_strs(report, "warnings"),
        unmeasured=str(_obj(report, "summary").get("unmeasured") or ""),
        failed_tests=int(_number(_obj(report, "summary").get("failed_tests"), 0)),
        environment=_strs(report, "environment"),
    )
