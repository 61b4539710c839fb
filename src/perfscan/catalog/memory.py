"""Memory patterns: what holds memory at a test's peak, or grows with every request."""

from __future__ import annotations

from perfscan.catalog.pattern import Pattern

LARGE_ALLOCATION = Pattern(
    "large-allocation",
    "memory",
    "large allocation",
    """\
## What it does
Reports a project function whose allocations hold 1 MiB or more (the lowest memory threshold)
alive at the peak of a test's setup, call or teardown, measured with tracemalloc and attributed
to the innermost project frame (or, when the peak sits in library code, to the project function
that called the library). A module-level value of 1 MiB or more already alive when the tests
start was made at import and is reported with phase `import`. The allocating line's expression
gives the category (a data structure, a cache, an array, a buffer, parsed data) and how far it
can be reduced.

## Why is this bad?
Peak memory is what a process needs to run at all: it sets the size of the machine or container
and how many workers fit on it, and a value made at import costs memory in every process that
imports the module, used or not. Streaming, slicing instead of copying, or building smaller
values lowers the peak.

## Example
```python
def load_rows(path):
    text = open(path).read()                 # the whole file, then a copy of it per line
    return [line.split(",") for line in text.splitlines()]
# instead: iterate the file and yield rows one at a time
```""",
)

PER_REQUEST_GROWTH = Pattern(
    "per-request-growth",
    "memory",
    "grows on every request",
    """\
## What it does
For a long-running server (or with `memory-repeat` set), runs the target tests twice more in the
same process and reports a module-level container that grows on every repetition, by 1 MiB or
more in all, named by the module-level name that holds it.

## Why is this bad?
Whatever a request adds and nothing removes stays until the process ends: a long-running server
grows without bound until it is restarted or runs out of memory. Bound the container
(`collections.deque(maxlen=...)`, an LRU cache) or keep the data outside the process.

## Example
```python
SEEN = []

def handle(request):
    SEEN.append(request.body)        # kept forever: use deque(maxlen=1000) or drop it
    return process(request)
```""",
)

PATTERNS = (LARGE_ALLOCATION, PER_REQUEST_GROWTH)
