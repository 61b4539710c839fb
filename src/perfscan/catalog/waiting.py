"""Waiting patterns: where a hot function's wall time goes while it is not running.

They belong to the CPU domain (the report's time section, "CPU"): a function's share is its
wall time, CPU plus waiting, and each of these labels is backed by the waiting (or, for queries,
the time) measured at its call site.
"""

from __future__ import annotations

from perfscan.catalog.pattern import Pattern

N_PLUS_ONE_QUERY = Pattern(
    "n-plus-one-query",
    "cpu",
    "one query per loop iteration",
    """\
## What it does
Finds a database statement run once per iteration of a loop: the same project line ran the same
statement shape many times (10 or more per run) inside a loop, in its own function or in the
project function that calls it per item. Statements are counted as sqlite runs them (Django's
and SQLAlchemy's sqlite backends included), by shape (literals as `?`); other drivers' `execute`
calls in a loop are found by their measured waiting. The evidence names the shape, the count,
the line and the loop. Backed by the time measured at that line: waiting for a database server,
or CPU for sqlite, which runs in the process.

## Why is this bad?
Each statement pays a round trip (parse, plan, lock, a network hop to a server): 1,500 queries
that each fetch one row cost far more than one query that fetches 1,500 rows. It grows with the
data, so it is fast in a test and slow in production.

## Example
```python
for item in items:
    price = db.execute("SELECT amount FROM price WHERE item_id = ?", (item.id,)).fetchone()
# one query: SELECT item_id, amount FROM price WHERE item_id IN (...), or a join;
# Django: Item.objects.select_related("price") / prefetch_related
```""",
)

IO_IN_LOOP = Pattern(
    "io-in-loop",
    "cpu",
    "I/O per loop iteration",
    """\
## What it does
Finds a network, file or subprocess call (`requests.get`, `sock.recv`, `urlopen`,
`subprocess.run`, `open`) made once per iteration of a `for` loop or comprehension over
independent items (the loop reads its item and never breaks or returns early), where the
function measurably waited at that call. A `while` loop (a protocol exchange, a poll) is not
flagged.

## Why is this bad?
The loop pays a full round trip per item, one after the other: the wall time is the sum of every
latency. Batching (one request for many items) or running the calls concurrently (a thread pool,
asyncio) pays it about once.

## Example
```python
for user_id in user_ids:
    profiles.append(requests.get(f"{API}/users/{user_id}").json())
# one batch request, or: list(pool.map(fetch_profile, user_ids))
```""",
)

SLEEP_IN_CODE = Pattern(
    "sleep-in-code",
    "cpu",
    "sleep on the measured path",
    """\
## What it does
Finds `time.sleep` in project code where the profiled run measurably waited: polling, retrying,
backing off or pacing. Sleeps in tests and fixtures are the harness's and are not reported.

## Why is this bad?
A sleep is wall time spent doing nothing. A poll that sleeps a fixed interval waits up to that
interval after the thing it waits for is ready; a retry with a fixed back-off waits even when
the first attempt would have succeeded a moment later.

## Example
```python
while not job.done():
    time.sleep(0.5)          # job.wait(timeout=...), a condition, or an event
```""",
)

LOCK_CONTENTION = Pattern(
    "lock-contention",
    "cpu",
    "waiting for a lock",
    """\
## What it does
Finds time threads spent waiting to acquire a lock, a condition or a semaphore (`with lock:`,
`lock.acquire()`, `cond.wait()`) or a queue (`queue.get()`, `queue.put()`), measured at that
call site in project code.

## Why is this bad?
While one thread holds the lock the others wait: the work they could do side by side runs one at
a time. Hold the lock only around the shared state (do the slow part, I/O or computation, outside
it), split it per key, or give each worker its own resource.

## Example
```python
with CACHE_LOCK:
    value = fetch(key)       # slow work under the lock: fetch first, then lock to store
    CACHE[key] = value
```""",
)

PATTERNS = (N_PLUS_ONE_QUERY, IO_IN_LOOP, SLEEP_IN_CODE, LOCK_CONTENTION)
