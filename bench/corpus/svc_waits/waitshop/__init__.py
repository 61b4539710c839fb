"""Order service helpers."""
