"""blocking-call-in-async: a blocking call made inside an `async def`, directly or through the
sync project functions it calls (up to three calls deep).

What it finds and what it leaves alone, why it costs, and an example: its catalog row
(perfscan/catalog/async_patterns.py; `perfscan explain blocking-call-in-async`).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from perfscan.passes.async_pass.blocking_calls import advice, display_name
from perfscan.passes.async_pass.blocking_sites import blocking_calls_in
from perfscan.passes.async_pass.reach import Reached, reached
from perfscan.passes.async_pass.scope import Hit, Scope

ID = "blocking-call-in-async"
SHOWN = 5  # calls spelled out in the evidence


def _chain(r: Reached) -> str:
    """`fetch_rates() at line 12 -> _get() (app/rates.py:9) -> requests.get (app/net.py:30)`."""
    parts = [f"{r.via[0].name}() at line {r.line}"]
    for prev, hop in zip(r.via, r.via[1:]):
        parts.append(f"{hop.name}() ({prev.file}:{prev.line})")
    last = r.via[-1]
    parts.append(f"{display_name(r.name)} ({last.file}:{last.line})")
    return " -> ".join(parts)


def check(scope: Scope) -> Optional[Hit]:
    direct = blocking_calls_in(scope)
    below = reached(scope)
    if not direct and not below:
        return None
    # (line, what the label says, what the evidence says, details entry, real name)
    items: List[Tuple[int, str, str, Dict[str, Any], str]] = [
        (line, display_name(name), f"{display_name(name)} at line {line}", {"name": name, "line": line}, name)
        for name, line in direct
    ]
    for r in below:
        via = [{"function": h.function, "file": h.file, "line": h.line} for h in r.via]
        label = f"{display_name(r.name)} via {r.via[0].name}()"
        items.append((r.line, label, _chain(r), {"name": r.name, "line": r.line, "via": via}, r.name))
    items.sort(key=lambda item: (item[0], len(item[3].get("via", ()))))
    what = ", ".join(dict.fromkeys(item[1] for item in items))
    if scope.hot_path:
        label = f"{what} on the hot path"
    elif scope.hot_known:
        label = f"{what} (not seen running)"
    else:
        label = f"{what} (hot path unknown)"
    where = ", ".join(item[2] for item in items[:SHOWN])
    if len(items) > SHOWN:
        where += f" and {len(items) - SHOWN} more"
    todo: Dict[str, None] = dict.fromkeys(advice(item[4]) for item in items)
    if below:
        heads = ", ".join(f"{name}()" for name in dict.fromkeys(r.via[0].name for r in below))
        todo[f"or run {heads} in a thread (asyncio.to_thread)"] = None
    unit = "call" if len(items) == 1 else "calls"
    return Hit(
        line=items[0][0],
        value=len(items),
        unit="calls",
        label=label,
        evidence=f"{where}; {'; '.join(todo)}",
        impact=f"blocks the event loop: every concurrent task waits for the {unit}",
        details={"calls": [item[3] for item in items]},
    )
