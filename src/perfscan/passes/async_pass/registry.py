"""The async rules, in one table: pattern name, check function, and where it applies."""
from __future__ import annotations

from typing import Tuple

from perfscan.passes.async_pass import (await_in_loop, blocking_call, cache_on_async, dangling_task,
                                        sequential_awaits, unbounded_gather)
from perfscan.passes.async_pass.scope import Rule

RULES: Tuple[Rule, ...] = (
    Rule(blocking_call.PATTERN, blocking_call.check),
    Rule(sequential_awaits.PATTERN, sequential_awaits.check),
    Rule(await_in_loop.PATTERN, await_in_loop.check),
    Rule(cache_on_async.PATTERN, cache_on_async.check),
    Rule(unbounded_gather.PATTERN, unbounded_gather.check),
    Rule(dangling_task.PATTERN, dangling_task.check, async_only=False),  # sync callbacks drop tasks too
)
PATTERNS: Tuple[str, ...] = tuple(rule.pattern for rule in RULES)
