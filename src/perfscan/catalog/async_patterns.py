"""Async patterns: code that stalls the event loop or gives up concurrency, found statically."""

from __future__ import annotations

from perfscan.catalog.pattern import Pattern

BLOCKING_CALL_IN_ASYNC = Pattern(
    "blocking-call-in-async",
    "async",
    "blocking call in async code",
    """\
## What it does
Finds calls made inside an `async def` whose real name (after import and alias resolution) is a
known blocking call (perfscan's list plus `[tool.perfscan] blocking-calls`): `time.sleep`, file
I/O, subprocesses, sync HTTP clients, sockets, sync database drivers, `input()`; directly, or
through the sync project functions it calls, up to three calls deep (the evidence shows the
chain: `fetch_rates() at line 12 -> requests.get (app/rates.py:9)`). Not flagged: calls inside a
nested sync def or lambda (handed to `to_thread` or `run_in_executor`), a function passed
uncalled, a sync function under a decorator perfscan does not know (it may run it elsewhere), a
method named like a blocking call on an unrelated object, a socket method on a socket made
non-blocking (`setblocking(False)`, `settimeout(0)`) or called in a `try` that catches
`BlockingIOError`; a sync function that blocks is reported only through the async functions
that call it. With the tests run in asyncio debug mode, a slow callback whose sampled stack
runs through the function confirms the finding at run time.

## Why is this bad?
A coroutine runs on the event loop's only thread; while the call blocks, no other task runs, so
one slow call adds its whole duration to every concurrent request. A sync helper that makes the
call blocks the loop just the same.

## Example
```python
async def notify(customer):
    time.sleep(0.05)                 # flagged: use await asyncio.sleep(0.05)
    await asyncio.to_thread(time.sleep, 0.05)   # fine: runs in a worker thread

def fetch_rates(currency):
    return requests.get(RATES_URL + currency).json()

async def quote(currency):
    return fetch_rates(currency)     # flagged: fetch_rates() -> requests.get
    return await asyncio.to_thread(fetch_rates, currency)   # fine
```""",
)

SEQUENTIAL_AWAITS = Pattern(
    "sequential-awaits",
    "async",
    "independent sequential awaits",
    """\
## What it does
In each block of an `async def`, follows runs of simple statements holding one await of a call
each (`x = await f(a)`, `await g(b)`) and reports three or more awaits in a row that do not
depend on each other. Names are full dotted paths: `api.stock.count()` and `api.prices.get()`
call methods of two objects, `self.db.get()` twice calls one. Two awaits conflict when one reads
or writes what the other writes (a method call may change its object), when they call the same
function or methods of the same object, when they assign a global, nonlocal or module-level
name, or when the callee is a local callable. Awaits of `asyncio.sleep`, `gather` or
`wait`, of a bare name (an existing task) and bare zero-argument awaits (`await connect()`:
ordered steps) end a run. When unsure, no finding.

## Why is this bad?
Each await waits for the previous one to finish; independent I/O could overlap, taking the time
of the slowest instead of the sum.

## Example
```python
a = await send_email(c, t)      # flagged: three independent awaits
b = await send_sms(c, t)
d = await push(c, t)
a, b, d = await asyncio.gather(send_email(c, t), send_sms(c, t), push(c, t))   # instead

a = await fetch(); b = await parse(a); c = await store(b)   # a chain: not flagged
cart = await api.carts.get(i); order = await api.orders.create(cart.items)   # a chain through attributes
```""",
)

AWAIT_IN_LOOP = Pattern(
    "await-in-loop",
    "async",
    "await in a loop",
    """\
## What it does
Finds `for x in xs: ... await f(x) ...` and `[await f(x) for x in xs]` when the awaited call uses
the loop variable (or a value computed from it in this iteration), whatever the receiver
(`await self.load(key)`, `await api.ratings.fetch(sku)`), and no iteration reads what an earlier
one wrote. Collecting results (`results.append(...)`, `out[k] = ...`, `total += ...`) is not
such a read. Conservative on purpose, no finding for: a loop-carried dependency (`prev`,
`self.cursor = await page(self.cursor)`, a page token, `if k in seen: continue; seen.add(k)`,
`total = await add(total, x)`); `async for`; `while` loops (polling, retries, consumers); loops
with `break`, `return` or `yield` (searches and retries); `asyncio.sleep` (deliberate pacing); a
method on a shared object that is ordered by nature (`await conn.execute(row)`,
`await ws.send(x)`, `await queue.put(x)`), or clean-up (`for s in streams: await s.aclose()`).

## Why is this bad?
Each iteration waits for the previous one; N independent requests take N times the latency of
one instead of about one.

## Example
```python
for url in urls:
    pages.append(await fetch(url))          # flagged
pages = await asyncio.gather(*(fetch(u) for u in urls))   # instead (bounded by a Semaphore)

for key in keys:
    self.cursor = await self.page(key, after=self.cursor)   # not flagged: each needs the last
```""",
)

CACHE_ON_ASYNC = Pattern(
    "cache-on-async",
    "async",
    "cache on an async def",
    """\
## What it does
Finds `functools.cache`, `functools.lru_cache` or a cachetools decorator, in any spelling
(`@lru_cache`, `@functools.lru_cache(maxsize=None)`, `@ft.cache`,
`from functools import lru_cache as memo`), on an `async def`.

## Why is this bad?
Calling an async def returns a coroutine object; the cache stores that object, and a coroutine
can be awaited only once, so the second call with the same arguments raises
"RuntimeError: cannot reuse already awaited coroutine" instead of being fast.

## Example
```python
@functools.lru_cache(maxsize=None)   # flagged
async def customer_profile(customer): ...
# instead: cache the awaited result (async_lru.alru_cache, or a dict of results/futures)
```""",
)

UNBOUNDED_GATHER = Pattern(
    "unbounded-gather",
    "async",
    "unbounded gather",
    """\
## What it does
Finds `asyncio.gather` called with a starred comprehension, generator, `map(...)`, or a local name
bound only to one of those, when neither the function nor the gathered coroutine mentions a
semaphore or limiter. A comprehension over `range(<small constant>)` or a literal tuple is
bounded and not flagged.

## Why is this bad?
Every item starts at once: 10,000 customers mean 10,000 open connections or sockets, exhausted
pools, rate limits and memory spikes.

## Example
```python
await asyncio.gather(*[notify(c) for c in customers])      # flagged
sem = asyncio.Semaphore(20)
async def one(c):
    async with sem:
        return await notify(c)
await asyncio.gather(*[one(c) for c in customers])         # fine
```""",
)

DANGLING_TASK = Pattern(
    "dangling-task",
    "async",
    "dangling task",
    """\
## What it does
Finds a bare expression statement calling `asyncio.create_task`, `asyncio.ensure_future`, or
`create_task` on an event loop (`asyncio.get_running_loop()`, a name bound to it, or a name
ending in `loop`), so the task's result is dropped. `tg.create_task` on a TaskGroup is fine.

## Why is this bad?
The event loop keeps only a weak reference to tasks; a task nobody holds can be garbage-collected
before it finishes, and its exception is never seen.

## Example
```python
asyncio.create_task(send(msg))              # flagged
task = asyncio.create_task(send(msg))       # fine: kept
BACKGROUND.add(task); task.add_done_callback(BACKGROUND.discard)
```""",
)

PATTERNS = (BLOCKING_CALL_IN_ASYNC, SEQUENTIAL_AWAITS, AWAIT_IN_LOOP, CACHE_ON_ASYNC, UNBOUNDED_GATHER, DANGLING_TASK)
