"""Byte sizes as the memory pass reports them: MiB, and the thresholds it counts in."""

from __future__ import annotations

MIB = 1024 * 1024


def mib(n: float) -> float:
    return n / MIB
