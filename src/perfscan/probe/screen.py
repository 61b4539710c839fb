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

The estimate is the larger of the two. On more-itertools' suite (664 phases) the phases whose
traced peak rose 1 MiB or more were 5, and every one read above half a MiB here, with 8 phases
selected in all; the screen's run took the plain run's time.
"""

import sys

BLOCK_BYTES = 256  # bytes a live small object is counted as
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


def _resident():
    """(VmRSS, VmHWM) in bytes."""
    rss = hwm = -1
    with open(STATUS, "rb") as fh:
        for line in fh:
            if line.startswith(b"VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith(b"VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    return rss, hwm


class Screen:
    def __init__(self):
        self.trim = _trimmer()
        self.high = [0]  # the most live small objects seen in the phase under way
        self._rss = 0
        self._blocks = 0

    def unavailable(self):
        """Why this process cannot be screened, or ""."""
        if not hasattr(sys, "getallocatedblocks"):
            return "this Python does not count its live objects"
        try:
            rss, hwm = _resident()
            with open(CLEAR_REFS, "w") as fh:
                fh.write("5")
        except (OSError, ValueError, IndexError):
            return "the resident memory's high-water mark cannot be read and reset here (/proc/self/clear_refs)"
        if rss < 0 or hwm < 0:
            return "the resident memory's high-water mark cannot be read here (VmHWM)"
        return ""

    def check(self):
        """Called at each collection and tick: keep the high point of live small objects."""
        blocks = sys.getallocatedblocks()
        if blocks > self.high[0]:
            self.high[0] = blocks

    def start(self):
        if self.trim is not None:
            self.trim(0)
        with open(CLEAR_REFS, "w") as fh:
            fh.write("5")
        self._rss = _resident()[0]
        self._blocks = self.high[0] = sys.getallocatedblocks()

    def stop(self):
        """(estimated rise, resident rise, rise in live small objects) of the phase that ends."""
        self.check()
        hwm = _resident()[1]
        resident = max(0, hwm - self._rss)
        blocks = max(0, self.high[0] - self._blocks)
        return max(resident, blocks * BLOCK_BYTES), resident, blocks
