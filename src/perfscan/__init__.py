"""perfscan: one ranked performance diagnosis of a Python project (CPU, memory, import, async)."""

__version__ = "0.1.0"
