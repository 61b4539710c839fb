"""Progress on stderr: one line per step, with the elapsed time. Silent with --quiet."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, quiet: bool = False, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def say(self, text: str) -> None:
        if self.quiet:
            return
        try:
            self.stream.write(f"[perfscan {self.elapsed():5.1f}s] {text}\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass
