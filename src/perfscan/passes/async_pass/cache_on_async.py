"""cache-on-async: `functools.cache` / `lru_cache` (any spelling) on an `async def`.

What it finds and what it leaves alone, why it costs, and an example: its catalog row
(perfscan/catalog/async_patterns.py; `perfscan explain cache-on-async`).
"""

from __future__ import annotations

import ast
from typing import Optional

from perfscan.passes.async_pass.scope import Hit, Scope

ID = "cache-on-async"

CACHE_DECORATORS = frozenset(
    {
        "functools.cache",
        "functools.lru_cache",
        "functools.cached_property",
        "cachetools.cached",
        "cachetools.func.lru_cache",
        "cachetools.func.ttl_cache",
        "cachetools.func.lfu_cache",
        "cachetools.func.rr_cache",
        "cachetools.func.fifo_cache",
    }
)


def check(scope: Scope) -> Optional[Hit]:
    for deco in getattr(scope.node, "decorator_list", []):
        target = deco.func if isinstance(deco, ast.Call) else deco
        # Decorators run in the enclosing scope, so this function's own names do not shadow.
        name = scope.aliases.resolve(target, frozenset())
        if name in CACHE_DECORATORS:
            return Hit(
                line=deco.lineno,
                value=1,
                unit="decorators",
                label=f"{name} on async def",
                evidence=(
                    f"@{name} at line {deco.lineno} caches the coroutine object, which can be awaited "
                    f"only once; cache the awaited result instead (async_lru.alru_cache or a dict of futures)"
                ),
                impact="a second call with the same arguments raises RuntimeError instead of hitting the cache",
                details={"decorator": name},
            )
    return None
