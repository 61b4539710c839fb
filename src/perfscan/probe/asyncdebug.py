"""Asyncio debug mode for runtime confirmation of blocking calls in async code.

Debug mode logs "Executing <Handle or Task ...> took N seconds" for every callback slower than
the loop's slow_callback_duration; those records confirm the async pass's static findings.
The threshold is lowered to 45 ms (the default, 100 ms, misses short sleeps).
"""

import logging
import os

from .contract import write_json

SLOW_SECONDS = 0.045


class _Collect(logging.Handler):
    def __init__(self, limit=500):
        logging.Handler.__init__(self, logging.DEBUG)
        self.records = []
        self.limit = limit

    def emit(self, record):
        if len(self.records) >= self.limit:
            return
        try:
            msg = record.getMessage()
        except Exception:
            return
        if msg.startswith("Executing"):
            # a long task repr must keep its end ("took N seconds") and its start (where the coroutine is)
            self.records.append(msg if len(msg) <= 4000 else msg[:3000] + " ... " + msg[-900:])


_handler = None


def enable():
    global _handler
    os.environ["PYTHONASYNCIODEBUG"] = "1"
    import asyncio.base_events as base_events

    original = base_events.BaseEventLoop.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.slow_callback_duration = SLOW_SECONDS
        self.set_debug(True)

    base_events.BaseEventLoop.__init__ = init  # type: ignore[method-assign]  # the patch is the point
    _handler = _Collect()
    logger = logging.getLogger("asyncio")
    logger.addHandler(_handler)
    if logger.level == logging.NOTSET or logger.level > logging.WARNING:
        logger.setLevel(logging.WARNING)


def dump(out_dir):
    if _handler is not None:
        write_json(os.path.join(out_dir, "asyncio.json"), {"records": _handler.records, "threshold": SLOW_SECONDS})
