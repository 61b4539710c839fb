"""A CPU finding's hot lines: where inside the function its time went (docs/design.md "Hot lines").

The sampling engine files each sample of a function's attributable time under the line its
innermost occurrence was at (`line_seconds`), and each waiting sample under the call site's line
(`wait_lines`, `gil_lines`). A line's time is the two together; a loop-invariant call's time moved
to the caller (hoisting.py) sits at the caller's call line. Shares are of the function's time
measured by line, so they add up to at most 100%.

A hot loop header stands for its loop (`end_line`): the sampler files the work of the loop's
body that makes no call at the header (`loop_headers`).

Kept: the lines with at least `MIN_SHARE_PCT` of that time, most first, at most `MAX_LINES`. A
function whose time is spread thin has no hot line, and cProfile (no lines) gives none.
"""

from __future__ import annotations

import ast
import unicodedata
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from perfscan.models import HotLine

MAX_LINES = 5
MIN_SHARE_PCT = 5.0
MAX_TEXT = 120  # characters of source shown per line


def select_hot_lines(
    cpu: Mapping[int, float],
    waits: Optional[Mapping[int, float]],
    source_lines: Sequence[str],
    runs: int = 1,
    loops: Mapping[int, int] = {},
    max_lines: int = MAX_LINES,
    min_share_pct: float = MIN_SHARE_PCT,
) -> Tuple[HotLine, ...]:
    """The hot lines of one function.

    cpu: attributable CPU seconds by line (pooled over `runs`); waits: waiting seconds by line,
    None where waiting was not measured; source_lines: the function's file, line 1 first (empty
    when it could not be read: the lines are still named, without text); loops: a loop header's
    line -> the loop's last line (`loop_headers`)."""
    lines: Dict[int, Tuple[float, float]] = {}
    for line, secs in cpu.items():
        if secs > 0 and line > 0:
            c, w = lines.get(line, (0.0, 0.0))
            lines[line] = (c + secs, w)
    for line, secs in (waits or {}).items():
        if secs > 0 and line > 0:
            c, w = lines.get(line, (0.0, 0.0))
            lines[line] = (c, w + secs)
    total = sum(c + w for c, w in lines.values())
    if total <= 0:
        return ()
    ranked = sorted(lines.items(), key=lambda kv: (-(kv[1][0] + kv[1][1]), kv[0]))
    out: List[HotLine] = []
    runs = max(runs, 1)
    for line, (c, w) in ranked[:max_lines]:
        share = 100.0 * (c + w) / total
        if share < min_share_pct:
            break
        out.append(
            HotLine(
                line=line,
                seconds=round((c + w) / runs, 6),
                share_pct=round(share, 1),
                cpu_seconds=round(c / runs, 6),
                wait_seconds=round(w / runs, 6) if waits is not None else None,
                text=line_text(source_lines, line),
                end_line=loops.get(line),
            )
        )
    return tuple(out)


def loop_headers(fn_node: ast.AST) -> Dict[int, int]:
    """A function's loops (not its nested defs' or classes'): header line -> last line.

    The sampler runs at calls and at a loop's back edge, which has no line of its own and is
    filed under the loop's header: a hot header holds the loop's overhead and the work in its
    body that makes no call (an `in` test on a list, arithmetic), so the report shows the loop."""
    out: Dict[int, int] = {}
    stack = list(ast.iter_child_nodes(fn_node))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            end = getattr(node, "end_lineno", None) or node.lineno
            if end > node.lineno:
                out[node.lineno] = max(out.get(node.lineno, 0), end)
    return out


def line_text(source_lines: Sequence[str], line: int) -> str:
    """Line `line` (1-based) as one safe line of text: stripped, tabs expanded, control and
    format characters (a bidi override, a stray escape) shown as escapes, at most MAX_TEXT
    characters; "" when the file has no such line."""
    if not 1 <= line <= len(source_lines):
        return ""
    raw = source_lines[line - 1].expandtabs(4).strip()
    shown = "".join(_visible(ch) for ch in raw)
    if len(shown) > MAX_TEXT:
        shown = shown[: MAX_TEXT - 1].rstrip() + "…"
    return shown


def _visible(ch: str) -> str:
    if unicodedata.category(ch)[0] != "C":
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else (f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")


def source_lines_of(text: str) -> List[str]:
    """A file's lines as the interpreter numbers them (the text was read with newlines translated;
    str.splitlines would also split at form feeds and other separators Python does not count)."""
    return text.split("\n") if text else []
