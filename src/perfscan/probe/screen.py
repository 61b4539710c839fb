"""The memory screen: how far each test phase's memory rose, without tracemalloc.

tracemalloc costs on every allocation: 3-9x a test's time on allocation-heavy code, and its
cost is the floor of a traced run. Most tests hold far less than the memory floor at their
peak, and only the tests that reach it can hold a finding. The screen runs every test untraced
and estimates each phase's rise from two figures the process keeps anyway:

- the resident set's high-water mark (the kernel's VmHWM, reset at each phase's start by
  writing 5 to /proc/self/clear_refs, Linux 4.0+), less the resident size at the start: every
  new page a phase touches, at any moment of it. Memory freed earlier and still resident would
  be reused unseen, so at each phase's start glibc's allocator gives its free pages back
  (`malloc_trim(0)`, where the C library has it);
- the count of live small objects (`sys.getallocatedblocks()`: pymalloc's blocks, 512 bytes at
  most each), whose high point is read at the start of every garbage collection and at every
  millisecond of CPU time (peakhook.watch_memory): small objects reuse the free room of the
  allocator's arenas without a new page, and the count sees them. A block is counted as
  BLOCK_BYTES, which is at least what a block holds on average in the suites measured (64-140
  bytes), so a phase that made a megabyte of small objects reads at least half of it.

The estimate is the larger of the two: what the process holds. A zeroed buffer never written
(`bytes(n)`, `bytearray(n)`, `numpy.zeros`) takes no page and reads nothing here, where
tracemalloc counts its size. A new peak of the mapped size (VmPeak) would see such a buffer,
but every new thread maps its stack and the C library a heap for it (on svc_waits' suite 128
to 208 MiB, and three tests traced for nothing), so it is not counted. On more-itertools' suite (664 phases) the phases whose
traced peak rose 1 MiB or more were 5, and every one read above half a MiB here, with 8 phases
selected in all; the screen's run took the plain run's time.
"""

import sys

from .clocks import perf_counter

BLOCK_BYTES = 256  # bytes a live small object is counted as
READ_EVERY = 0.001  # seconds between two readings of the count of live objects, at least
INF = float("inf")
CLEAR_REFS = "/proc/self/clear_refs"
STATUS = "/proc/self/status"


def _trimmer():
    """glibc's malloc_trim, or None (another C library, or no ctypes)."""
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim
    except (ImportError, OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


FIELDS = (b"VmRSS:", b"VmHWM:")


def _status():
    """(VmRSS, VmHWM) in bytes, -1 where missing."""
    out = [-1, -1]
    with open(STATUS, "rb") as fh:
        for line in fh:
            if line.startswith(FIELDS):
                out[FIELDS.index(line.split()[0])] = int(line.split()[1]) * 1024
    return out


class Screen:
    def __init__(self):
        self.trim = _trimmer()
        self.high = [0]  # the most live small objects seen in the phase under way
        self._start = None  # _status() at the phase's start
        self._next_read = 0.0  # perf_counter() before which check() reads nothing
        self._blocks = 0

    def unavailable(self):
        """Why this process cannot be screened, or ""."""
        if not hasattr(sys, "getallocatedblocks"):
            return "this Python does not count its live objects"
        try:
            rss, hwm = _status()
            with open(CLEAR_REFS, "w") as fh:
                fh.write("5")
        except (OSError, ValueError, IndexError):
            return "the resident memory's high-water mark cannot be read and reset here (/proc/self/clear_refs)"
        if rss < 0 or hwm < 0:
            return "the resident memory's high-water mark cannot be read here (VmHWM)"
        return ""

    def check(self, now=None):
        """Called at each collection and tick: keep the high point of live small objects. The
        count walks every pool of the allocator's arenas (45 µs with 56 MiB of small objects, and
        a collection starts every 700 allocations), so it is read at most every READ_EVERY
        seconds, and no more often than its last reading's cost allows (a twentieth)."""
        now = perf_counter() if now is None else now
        if now < self._next_read:
            return
        blocks = sys.getallocatedblocks()
        self._next_read = now + max(READ_EVERY, 20 * (perf_counter() - now))
        if blocks > self.high[0]:
            self.high[0] = blocks

    def start(self):
        if self.trim is not None:
            self.trim(0)
        try:
            with open(CLEAR_REFS, "w") as fh:
                fh.write("5")
            self._start = _status()
        except (OSError, ValueError, IndexError):
            self._start = None  # never a test's error: this phase has the count of live objects alone
        self._blocks = self.high[0] = sys.getallocatedblocks()
        self._next_read = perf_counter() + READ_EVERY

    def stop(self):
        """(estimated rise, resident rise, rise in live small objects) of the phase that ends."""
        self.check(now=INF)
        resident = 0
        if self._start is not None:
            try:
                end = _status()
            except (OSError, ValueError, IndexError):
                end = None
            if end is not None and min(self._start + end) >= 0:
                resident = max(0, end[1] - self._start[0])
        blocks = max(0, self.high[0] - self._blocks)
        return max(resident, blocks * BLOCK_BYTES), resident, blocks
