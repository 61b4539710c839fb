"""The probe's asyncio.json, read into typed records (docs/design.md "The probe's JSON contract").

`records`: asyncio's "Executing <...> took N seconds" lines; `stacks`, one list per record: the
project frames the probe sampled while that callback held the loop, each distinct stack with its
number of samples; `loops` and `callbacks`: how many event loops ran in debug mode and how many
callbacks they ran; `debug_kept_on`: how often a runner asked debug mode off and the probe kept it on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Tuple

from perfscan.passes.async_pass.slow_callbacks import normalize_file, parse_record

Frame = Tuple[str, int, str]  # file (root-relative posix inside the project), line, function name
Stack = Tuple[Tuple[Frame, ...], int]  # frames innermost first, samples


@dataclass(frozen=True)
class SlowCallback:
    file: Optional[str]  # where the record says the callback or task's coroutine is; None when it names no file
    line: Optional[int]
    seconds: float
    text: str
    stacks: Tuple[Stack, ...] = ()  # most sampled first


@dataclass(frozen=True)
class AsyncioDebugRun:
    records: Tuple[SlowCallback, ...] = ()
    threshold: float = 0.045
    loops: Optional[int] = None  # None when the file does not say
    callbacks: Optional[int] = None
    debug_kept_on: int = 0

    @classmethod
    def from_json(cls, data: Mapping[str, Any], root: Any) -> AsyncioDebugRun:
        texts = data.get("records")
        stacks = data.get("stacks")
        out: List[SlowCallback] = []
        for i, text in enumerate(texts if isinstance(texts, list) else ()):
            parsed = parse_record(str(text), root)
            if parsed is None:
                continue
            sampled = _stacks(stacks[i] if isinstance(stacks, list) and i < len(stacks) else None, root)
            if parsed[0] is None and not sampled:
                continue  # nothing says where it ran
            out.append(SlowCallback(parsed[0], parsed[1], parsed[2], parsed[3], sampled))
        return cls(
            records=tuple(out),
            threshold=_number(data.get("threshold"), 0.045),
            loops=_count(data.get("loops")),
            callbacks=_count(data.get("callbacks")),
            debug_kept_on=_count(data.get("debug_kept_on")) or 0,
        )


def _stacks(raw: Any, root: Any) -> Tuple[Stack, ...]:
    out: List[Stack] = []
    for item in raw if isinstance(raw, list) else ():
        try:
            frames, samples = item
            stack = tuple((normalize_file(str(f), root), int(line), str(name)) for f, line, name in frames)
            out.append((stack, int(samples)))
        except (TypeError, ValueError):
            continue
    out.sort(key=lambda s: -s[1])
    return tuple(out)


def _count(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else default
