"""Every pattern a finding can name: id, domain, title and doc, in one place.

The reports' words for a pattern (its title), the SARIF rules' help and `perfscan explain` all
read these rows. Each detection module declares the id it emits (`ID = "nested-loop"` in the CPU
and async pattern modules; the memory and import passes use `catalog.LARGE_ALLOCATION.id` and the
like), and a test checks that every id a pass can emit has a row here. To add a pattern: a row in
the domain's module below, then the detection module that emits its id.
"""

from __future__ import annotations

import difflib
from typing import Dict, List, Mapping, Tuple

from perfscan.catalog.async_patterns import (
    AWAIT_IN_LOOP,
    BLOCKING_CALL_IN_ASYNC,
    CACHE_ON_ASYNC,
    DANGLING_TASK,
    SEQUENTIAL_AWAITS,
    UNBOUNDED_GATHER,
)
from perfscan.catalog.async_patterns import PATTERNS as _ASYNC
from perfscan.catalog.cpu import (
    CPU_HOTSPOT,
    DEEPCOPY,
    LOOP_INVARIANT_CALL,
    NESTED_LOOP,
    POP_FRONT,
    QUADRATIC_MEMBERSHIP,
    REGEX_IN_LOOP,
    REPEATED_COMPUTATION,
    SERIALIZE_IN_LOOP,
    SORT_IN_LOOP,
    STRING_CONCAT_IN_LOOP,
)
from perfscan.catalog.cpu import PATTERNS as _CPU
from perfscan.catalog.imports import BARREL_IMPORT, HEAVY_EAGER_IMPORT, IMPORT_TIME_COMPUTATION
from perfscan.catalog.imports import PATTERNS as _IMPORT
from perfscan.catalog.memory import LARGE_ALLOCATION, PER_REQUEST_GROWTH
from perfscan.catalog.memory import PATTERNS as _MEMORY
from perfscan.catalog.pattern import SECTIONS, Pattern
from perfscan.catalog.waiting import IO_IN_LOOP, LOCK_CONTENTION, N_PLUS_ONE_QUERY, SLEEP_IN_CODE
from perfscan.catalog.waiting import PATTERNS as _WAITING

# What a CPU finding carries when no pattern is backed by enough measured time.
NO_PATTERN = "none"

PATTERNS: Tuple[Pattern, ...] = _CPU + _WAITING + _MEMORY + _IMPORT + _ASYNC
_BY_ID: Dict[str, Pattern] = {p.id: p for p in PATTERNS}

__all__ = [
    "NO_PATTERN",
    "PATTERNS",
    "SECTIONS",
    "Pattern",
    "closest",
    "get",
    "rule_id",
    "titles",
    "CPU_HOTSPOT",
    "DEEPCOPY",
    "LOOP_INVARIANT_CALL",
    "NESTED_LOOP",
    "POP_FRONT",
    "QUADRATIC_MEMBERSHIP",
    "REGEX_IN_LOOP",
    "REPEATED_COMPUTATION",
    "SERIALIZE_IN_LOOP",
    "SORT_IN_LOOP",
    "STRING_CONCAT_IN_LOOP",
    "N_PLUS_ONE_QUERY",
    "IO_IN_LOOP",
    "SLEEP_IN_CODE",
    "LOCK_CONTENTION",
    "LARGE_ALLOCATION",
    "PER_REQUEST_GROWTH",
    "BARREL_IMPORT",
    "HEAVY_EAGER_IMPORT",
    "IMPORT_TIME_COMPUTATION",
    "AWAIT_IN_LOOP",
    "BLOCKING_CALL_IN_ASYNC",
    "CACHE_ON_ASYNC",
    "DANGLING_TASK",
    "SEQUENTIAL_AWAITS",
    "UNBOUNDED_GATHER",
]


def get(pattern_id: str) -> Pattern:
    """The row for an id; KeyError when perfscan has no such pattern."""
    return _BY_ID[pattern_id]


def titles() -> Mapping[str, str]:
    """id -> title, the words the reports print after a finding's metric."""
    return {p.id: p.title for p in PATTERNS}


def rule_id(domain: str, pattern: str) -> str:
    """The id a finding is filed under in rule lists (SARIF): its pattern, or `<domain>-hotspot` without one."""
    return pattern if pattern != NO_PATTERN else f"{domain}-hotspot"


def closest(text: str, n: int = 3) -> List[str]:
    """Pattern ids spelled most like `text`, best first (for a user's typo or a partial id)."""
    wanted = text.strip().lower().replace("_", "-")
    containing = [i for i in _BY_ID if wanted and wanted in i]
    similar = difflib.get_close_matches(wanted, list(_BY_ID), n=n, cutoff=0.5)
    return list(dict.fromkeys(containing + similar))[:n]
