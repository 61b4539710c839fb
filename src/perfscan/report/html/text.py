"""Turning report values into page text: escaping, embedded JSON, durations, a finding's details."""

from __future__ import annotations

import json
from html import escape
from typing import Any, Mapping, Tuple

from perfscan.safetext import clean_data


def e(value: Any) -> str:
    """Escape any project-provided value for HTML text or a quoted attribute."""
    return escape("" if value is None else str(value), quote=True)


def json_for_script(data: Any) -> str:
    """JSON safe inside <script>: no `</script>`, `<!--` or `&` can survive."""
    text = json.dumps(clean_data(data), ensure_ascii=False, separators=(",", ":"), default=str)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def fmt_seconds(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.1f} s"


def fmt_ms(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else (f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms")


def number(value: Any) -> float:
    """A figure from the report, 0 when it is missing or not a number."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _value_text(v: Any) -> str:
    if isinstance(v, float):
        text = f"{v:.4g}"
    elif isinstance(v, Mapping):
        text = ", ".join(f"{k} {_value_text(x)}" for k, x in v.items())
    elif isinstance(v, (list, tuple)):
        text = ", ".join(_value_text(x) for x in v)
    else:
        text = str(v)
    return text if len(text) <= 600 else text[:600] + "…"


_DETAIL_LABELS = {
    "def_line": ("Defined at line", ""),
    "own_pct": ("Own time", "%"),
    "cumulative_pct": ("Cumulative time", "%"),
    "calls": ("Calls", ""),
    "primitive_calls": ("Primitive calls", ""),
    "callers": ("Top callers", ""),
    "attributable_seconds": ("Attributable time", " s"),
    "phase_seconds": ("Attributable by phase (s)", ""),
}


def detail(key: str, value: Any) -> Tuple[str, str]:
    """A finding's `details` entry as (label, text)."""
    label, unit = _DETAIL_LABELS.get(key, (key.replace("_", " ").capitalize(), ""))
    if isinstance(value, int) and not isinstance(value, bool) and key != "def_line":
        return label, f"{value:,}{unit}"
    return label, _value_text(value) + (unit if isinstance(value, (int, float)) and not isinstance(value, bool) else "")
