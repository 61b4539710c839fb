"""Progress on stderr. On a terminal: a live line per step (elapsed time ticking) and colour;
elsewhere: plain log lines. --quiet: nothing. NO_COLOR turns colour off."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Optional, TextIO

SEVERITY_COLOURS = {"critical": "1;31", "high": "31", "medium": "33", "low": "36", "info": "2"}


def use_colour(stream: TextIO) -> bool:
    return (
        bool(getattr(stream, "isatty", lambda: False)())
        and not os.environ.get("NO_COLOR")
        and os.environ.get("TERM") != "dumb"
    )


def paint(text: str, code: str, on: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if on and code else text


class Progress:
    def __init__(self, quiet: bool = False, stream: Optional[TextIO] = None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.live = not quiet and bool(getattr(self.stream, "isatty", lambda: False)())
        self.colour = use_colour(self.stream)
        self._step: Optional[str] = None
        self._step_start = 0.0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def say(self, text: str) -> None:
        """A line that stays."""
        if self.quiet:
            return
        with self._lock:
            if self.live:
                self._write("\r\x1b[2K")
            self._write(f"[perfscan {self.elapsed():5.1f}s] {text}\n")

    def begin(self, step: str) -> None:
        """A step whose line ticks on a terminal until end()."""
        if self.quiet:
            return
        if not self.live:
            self.say(f"{step}: running")
            return
        self._step, self._step_start = step, time.monotonic()
        self._stop.clear()
        self._thread = threading.Thread(target=self._tick, daemon=True)
        self._thread.start()

    def end(self, text: str) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        self.say(text)

    def _tick(self) -> None:
        frames = "|/-\\"
        i = 0
        while not self._stop.wait(0.1):
            with self._lock:
                self._write(f"\r\x1b[2K{frames[i % 4]} {self._step}: {time.monotonic() - self._step_start:5.1f}s")
            i += 1
