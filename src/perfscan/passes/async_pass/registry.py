"""The async rules, in one table: pattern name, check function, and where it applies."""

from __future__ import annotations

from typing import Tuple

from perfscan.passes.async_pass import (
    await_in_loop,
    blocking_call,
    cache_on_async,
    dangling_task,
    sequential_awaits,
    unbounded_gather,
)
from perfscan.passes.async_pass.scope import Rule

RULES: Tuple[Rule, ...] = (
    Rule(blocking_call.ID, blocking_call.check),
    Rule(sequential_awaits.ID, sequential_awaits.check),
    Rule(await_in_loop.ID, await_in_loop.check),
    Rule(cache_on_async.ID, cache_on_async.check),
    Rule(unbounded_gather.ID, unbounded_gather.check),
    Rule(dangling_task.ID, dangling_task.check, async_only=False),  # sync callbacks drop tasks too
)
PATTERNS: Tuple[str, ...] = tuple(rule.pattern for rule in RULES)
