"""CPU across shards: shares re-derived from seconds, never averaged (docs/design.md "Sharded scans").

Each shard's CPU section holds its profiled wall time and every project function's attributable
and waiting seconds (`functions`, `waits`) and exact calls (`calls`). A function's merged share
is the sum of its seconds over the sum of the walls, so a function hot in one shard weighs what
it weighs in the whole suite. Since that share is at most the largest of its shards' shares, a
function below the floor in every shard stays below it: only the shards' findings can be
findings of the merge, and those that fall to the floor or below are dropped.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from perfscan.merge.inputs import Shard
from perfscan.models import Finding, Metric
from perfscan.passes.cpu.findings import amdahl, share_text
from perfscan.passes.cpu.flame import FlameNode
from perfscan.passes.cpu.section import CpuSection, TopRow, WaitRow

TOP_ROWS = 12  # the CPU table's rows, as a scan writes them
WAIT_ROWS = 12


def _sections(shards: Sequence[Shard]) -> List[Tuple[Shard, CpuSection]]:
    out = []
    for s in shards:
        p = s.result.passes.get("cpu")
        if p is not None and isinstance(p.data, CpuSection):
            out.append((s, p.data))
    return out


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _count(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _seconds(sec: CpuSection, fn: str, finding: Optional[Finding]) -> Tuple[float, float]:
    """(attributable CPU, waiting) seconds of `fn` in one shard; its finding's figures in a report
    made before `functions` held every function."""
    if fn in sec.functions:
        return sec.functions[fn], sec.waits.get(fn, 0.0)
    if finding is not None:
        cpu = _number(finding.details.get("cpu_seconds")) or _number(finding.details.get("attributable_seconds"))
        return cpu or 0.0, _number(finding.details.get("wait_seconds")) or 0.0
    return 0.0, 0.0


def _calls(
    sec: CpuSection, fn: str, fallback: Tuple[Optional[int], Optional[int]], ran: bool
) -> Tuple[Optional[int], Optional[int]]:
    """(calls, primitive calls) of `fn` in one shard: 0 where it did not run, None where it ran uncounted."""
    if fn in sec.calls:
        total = sec.calls[fn]
        return total, sec.primitive_calls.get(fn, total)
    if fallback[0] is not None:
        return fallback
    return (None, None) if ran else (0, 0)


def _add(a: Optional[int], b: Optional[int]) -> Optional[int]:
    return None if a is None or b is None else a + b


def _calls_text(calls: Optional[int], primitive: Optional[int]) -> str:
    # as the CPU pass writes it in a finding's evidence (passes/cpu/findings.py)
    if calls is None:
        return "calls not counted"
    return f"{calls:,} call{'' if calls == 1 else 's'}" + (
        f" ({primitive:,} primitive)" if primitive is not None and primitive != calls else ""
    )


def _summed(items: Sequence[Mapping[str, Any]], key: str) -> Dict[str, float]:
    """The `key` maps of several JSON objects added up (_sum_maps), values that are not numbers as 0."""
    maps = [d.get(key) for d in items]
    return _sum_maps([{str(k): _number(v) or 0.0 for k, v in m.items()} for m in maps if isinstance(m, Mapping)])


def _merged_sites(lists: Sequence[Any], key_fields: Tuple[str, ...], add: Tuple[str, ...]) -> List[Dict[str, Any]]:
    """JSON rows of several shards merged by `key_fields`: the `add` fields summed (None stays None)."""
    merged: Dict[Tuple[Any, ...], Dict[str, Any]] = {}
    for rows in lists:
        for row in rows if isinstance(rows, list) else []:
            if not isinstance(row, Mapping):
                continue
            key = tuple(row.get(k) for k in key_fields)
            if key not in merged:
                merged[key] = dict(row)
                continue
            into = merged[key]
            for f in add:
                a, b = into.get(f), row.get(f)
                into[f] = None if a is None or b is None else round(a + b, 6) if isinstance(a, float) else a + b
    return list(merged.values())


def _finding(
    fn: str,
    per_shard: List[Tuple[Shard, CpuSection, Optional[Finding]]],
    wall: float,
    floor: float,
    what: str,
) -> Optional[Finding]:
    cpu = wait = 0.0
    calls: Optional[int] = 0
    primitive: Optional[int] = 0
    weights = []
    for shard, sec, f in per_shard:
        c, w = _seconds(sec, fn, f)
        cpu, wait = cpu + c, wait + w
        weights.append((c + w, shard, f))
        fallback = (_count(f.details.get("calls")), _count(f.details.get("primitive_calls"))) if f else (None, None)
        if fallback[1] is None:
            fallback = (fallback[0], fallback[0])
        n, p = _calls(sec, fn, fallback, ran=f is not None or fn in sec.functions)
        calls, primitive = _add(calls, n), _add(primitive, p)
    share = round(100.0 * (cpu + wait) / wall, 1)
    if share <= floor:
        return None
    # pattern evidence from the shard where the function weighs most
    top_seconds, top_shard, base = max(((s, sh, f) for s, sh, f in weights if f is not None), key=lambda t: t[0])
    assert base is not None
    found = [(sh, sec, f) for sh, sec, f in per_shard if f is not None]
    walls = {sh.name: sec.wall_seconds for sh, sec, _ in per_shard}

    def pct_of(key: str) -> float:
        total = sum((_number(f.details.get(key)) or 0.0) * walls[sh.name] / 100.0 for sh, _, f in found)
        return round(100.0 * total / wall, 1)

    details = dict(base.details)
    details.update(
        {
            "calls": calls,
            "primitive_calls": primitive,
            "attributable_seconds": round(cpu, 6),
            "cpu_seconds": round(cpu, 6),
            "wait_seconds": round(wait, 6),
            "wall_seconds": round(cpu + wait, 6),
            "cpu_pct": round(100.0 * cpu / wall, 1),
            "wait_pct": round(100.0 * wait / wall, 1),
            "own_pct": pct_of("own_pct"),
            "cumulative_pct": pct_of("cumulative_pct"),
            "gil_seconds": round(sum(_number(f.details.get("gil_seconds")) or 0.0 for _, _, f in found), 6),
            "phase_seconds": _summed([f.details for _, _, f in found], "phase_seconds"),
            "wall_phase_seconds": _summed([f.details for _, _, f in found], "wall_phase_seconds"),
            "wait_sites": _merged_sites(
                [f.details.get("wait_sites") for _, _, f in found],
                ("line", "call"),
                ("seconds", "gil_seconds", "count"),
            )[:8],
            "statements": _merged_sites(
                [f.details.get("statements") for _, _, f in found], ("line", "shape"), ("count",)
            )[:5],
            "shards": [{"report": sh.name, "seconds": round(s, 6)} for s, sh, _ in weights],
        }
    )
    tests: List[str] = []
    for _, _, f in sorted(found, key=lambda t: t[2] is not base):
        tests += [str(t) for t in f.details.get("tests") or () if str(t) not in tests]
    if tests:
        details["tests"] = tests[:3]
    evidence = base.evidence
    old = _calls_text(_count(base.details.get("calls")), _count(base.details.get("primitive_calls")))
    if old in evidence:
        evidence = evidence.replace(old, _calls_text(calls, primitive) + " in all shards", 1)
    if len(found) > 1 or len([w for w in weights if w[0] > 0]) > 1:
        evidence += f"; pattern evidence from {top_shard.name}, where it weighs most ({top_seconds:.3f} s of {cpu + wait:.3f} s)"
    waiting = 100.0 * wait / wall
    split = (
        ""
        if waiting < max(0.5, 0.05 * share)
        else f" ({share_text(waiting)} waiting, {share_text(100.0 * cpu / wall)} CPU)"
    )
    return replace(
        base,
        metric=Metric(
            share, "%", f"{share_text(share)} of profiled {what[:-1] if what == 'tests' else what} time{split}"
        ),
        evidence=evidence,
        estimated_impact=f"up to {amdahl(share):.2f}x on the profiled {what} (Amdahl: {share:.1f}% removed)",
        details=details,
    )


def _top(pairs: Sequence[Tuple[Shard, CpuSection]], wall: float) -> Tuple[TopRow, ...]:
    rows: Dict[str, List[Tuple[CpuSection, TopRow]]] = {}
    for _, sec in pairs:
        for top_row in sec.top:
            rows.setdefault(top_row.function, []).append((sec, top_row))
    out = []
    for fn, seen in rows.items():
        cpu = wait = own = cum = 0.0
        calls: Optional[int] = 0
        primitive: Optional[int] = 0
        for _, sec in pairs:
            row: Optional[TopRow] = next((r for s, r in seen if s is sec), None)
            if fn in sec.functions:
                cpu += sec.functions[fn]
                wait += sec.waits.get(fn, 0.0)
            elif row is not None:
                cpu += row.attributable_pct * sec.wall_seconds / 100.0
                wait += row.wait_pct * sec.wall_seconds / 100.0
            if row is not None:
                own += row.own_pct * sec.wall_seconds / 100.0
                cum += row.cumulative_pct * sec.wall_seconds / 100.0
            fallback = (row.calls, row.primitive_calls) if row is not None else (None, None)
            n, p = _calls(sec, fn, fallback, ran=row is not None or fn in sec.functions)
            calls, primitive = _add(calls, n), _add(primitive, p)
        first = seen[0][1]

        def pct(seconds: float) -> float:
            return round(100.0 * seconds / wall, 1)

        out.append(
            replace(
                first,
                attributable_pct=pct(cpu),
                own_pct=pct(own),
                cumulative_pct=pct(cum),
                calls=calls,
                primitive_calls=primitive,
                wall_pct=pct(cpu + wait),
                wait_pct=pct(wait),
            )
        )
    out.sort(key=lambda r: r.wall_pct or 0.0, reverse=True)
    return tuple(out[:TOP_ROWS])


def _wait_rows(pairs: Sequence[Tuple[Shard, CpuSection]], wall: float) -> Tuple[WaitRow, ...]:
    merged = _merged_sites(
        [[r.to_json() for r in sec.wait_sites] for _, sec in pairs], ("function", "file", "line", "call"), ("count",)
    )
    seconds: Dict[Tuple[Any, ...], float] = {}
    for _, sec in pairs:
        for r in sec.wait_sites:
            key = (r.function, r.file, r.line, r.call)
            seconds[key] = seconds.get(key, 0.0) + r.seconds
    rows = []
    for d in merged:
        s = seconds[(d["function"], d["file"], d["line"], d["call"])]
        row = WaitRow.from_json({**d, "seconds": round(s, 6), "pct": round(100.0 * s / wall, 1)})
        if row is not None:
            rows.append(row)
    rows.sort(key=lambda r: r.seconds, reverse=True)
    return tuple(rows[:WAIT_ROWS])


def merge_flame(a: Optional[FlameNode], b: Optional[FlameNode]) -> Optional[FlameNode]:
    """Two call trees as one: the same frame under the same parents adds its seconds."""
    if a is None or b is None:
        return a or b
    children: Dict[Tuple[str, str, str, str], FlameNode] = {}
    for child in a.children + b.children:
        key = (child.name, child.qualname, child.kind, child.where)
        merged = merge_flame(children.get(key), child)
        assert merged is not None
        children[key] = merged
    ordered = sorted(children.values(), key=lambda c: c.seconds, reverse=True)
    return replace(a, seconds=round(a.seconds + b.seconds, 6), children=tuple(ordered))


def _sum_maps(maps: Sequence[Mapping[str, float]]) -> Dict[str, float]:
    out: Dict[str, float] = {}
    for m in maps:
        for k, v in m.items():
            out[k] = round(out.get(k, 0.0) + v, 6)
    return out


def merge_cpu(
    shards: Sequence[Shard], floor: float, what: str = "tests"
) -> Tuple[Optional[CpuSection], List[Finding], List[str]]:
    """The merged CPU section, its findings (unranked) and the notes that say how it was merged."""
    pairs = _sections(shards)
    if not pairs:
        return None, [], []
    wall = sum(sec.wall_seconds for _, sec in pairs)
    first = pairs[0][1]
    by_fn: Dict[str, Dict[str, Finding]] = {}
    for shard, _ in pairs:
        for r in shard.result.findings:
            if r.finding.domain == "cpu":
                by_fn.setdefault(r.finding.qualname, {})[shard.name] = r.finding
    findings = []
    dropped = 0
    if wall > 0:
        for fn, found in by_fn.items():
            f = _finding(fn, [(sh, sec, found.get(sh.name)) for sh, sec in pairs], wall, floor, what)
            if f is None:
                dropped += 1
            else:
                findings.append(f)
    counts: Dict[str, int] = {}
    primitive: Dict[str, int] = {}
    for _, sec in pairs:
        for fn, n in sec.calls.items():
            counts[fn] = counts.get(fn, 0) + n
            primitive[fn] = primitive.get(fn, 0) + sec.primitive_calls.get(fn, n)
    flame = flame_wall = None
    for _, sec in pairs:
        flame, flame_wall = merge_flame(flame, sec.flame), merge_flame(flame_wall, sec.flame_wall)
    same_engine = all(sec.engine_id == first.engine_id for _, sec in pairs)
    threads = list(dict.fromkeys(sec.threads for _, sec in pairs))
    functions = _sum_maps([sec.functions for _, sec in pairs])
    section = replace(
        first,
        # the heading names the engine once: its words differ per shard only by rates and runs pooled
        engine=f"{first.engine}; {len(pairs)} shards merged"
        if same_engine
        else "; ".join(dict.fromkeys(sec.engine for _, sec in pairs)),
        engine_id=first.engine_id if same_engine else "",
        wall_seconds=wall,
        phase_seconds=_sum_maps([sec.phase_seconds for _, sec in pairs]),
        threads=threads[0] if len(threads) == 1 else ", ".join(str(t) for t in threads),
        counting_seconds=round(sum(sec.counting_seconds for _, sec in pairs), 6),
        functions_seen=max([len(functions)] + [sec.functions_seen for _, sec in pairs]),
        top=_top(pairs, wall) if wall > 0 else (),
        functions=functions,
        flame=flame,
        waiting=next((sec.waiting for _, sec in pairs if sec.waiting), ""),
        wait_seconds=round(sum(sec.wait_seconds for _, sec in pairs), 6),
        harness_wait_seconds=round(sum(sec.harness_wait_seconds for _, sec in pairs), 6),
        waits=_sum_maps([sec.waits for _, sec in pairs]),
        wait_sites=_wait_rows(pairs, wall) if wall > 0 else (),
        flame_wall=flame_wall,
        calls=counts,
        primitive_calls={fn: n for fn, n in primitive.items() if n != counts[fn]},
    )
    walls = ", ".join(f"{sh.name} {sec.wall_seconds:.2f} s" for sh, sec in pairs)
    notes = [f"shares re-derived over the {len(pairs)} shards' profiled wall time, {wall:.2f} s in all ({walls})"]
    if dropped:
        notes.append(
            f"{dropped} function{'s' if dropped != 1 else ''} above the floor in a shard "
            f"{'fall' if dropped != 1 else 'falls'} to it or below across the shards: not reported"
        )
    return section, findings, notes
