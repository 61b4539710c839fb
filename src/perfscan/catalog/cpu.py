"""CPU patterns: what a hot function does that makes it slow, backed by measured time."""

from __future__ import annotations

from perfscan.catalog.pattern import Pattern

# A hot function with no pattern backed by enough measured time carries pattern "none"; SARIF
# needs a rule id for it all the same.
CPU_HOTSPOT = Pattern(
    "cpu-hotspot",
    "cpu",
    "cpu hotspot",
    """\
## What it does
Reports a project function that takes more than 2% of the profiled time by wall time (its
attributable time, cumulative minus the project functions it calls, plus the time it waited),
when none of the CPU or waiting patterns is backed by at least a tenth of that time. In the Markdown and JSON reports its pattern is `none`.

## Why is this bad?
The function is where the profiled run spends its time; the estimated impact is Amdahl's bound
for removing it. No known pattern explains the time, so read the function's body, its calls and
its callers (in the finding's evidence) to see what it repeats.

## Example
```python
def score(records):
    return sum(weight(r) * r.value for r in records)   # hot, but no known pattern
```""",
)

QUADRATIC_MEMBERSHIP = Pattern(
    "quadratic-membership",
    "cpu",
    "quadratic membership test",
    """\
## What it does
Finds, inside a loop, a membership test (`in`, `.index`, `.count`) on a value known to be a list
or tuple, or an explicit linear scan (`any`/`all` over a generator) over a collection other than
the loop's own iterable.

## Why is this bad?
Each test scans the list, so n tests over a growing list cost O(n^2); a set or dict answers in
O(1).

## Example
```python
seen = []
for w in words:
    if w not in seen:      # scans `seen` every time: use a set
        seen.append(w)
```""",
)

NESTED_LOOP = Pattern(
    "nested-loop",
    "cpu",
    "nested loop",
    """\
## What it does
Finds a loop inside a loop where the inner loop walks a collection that does not come from the
outer loop's current item, so both sizes grow with the input, and the time measured at the inner
loop's lines is a real part of the function's. Not a finding: iterating the current item's own
children (`for w in graph.adj[v]`); a small constant inner collection (a literal, `range(3)`, a
module-level tuple or frozenset of a few items); an inner loop that adds an element to the result
on every iteration (building an n x m matrix is the output's size, not a search); an inner loop
whose exact iteration counts show it does not grow with the outer one (a parser's few arcs per
state, one or two arrays per row).

## Why is this bad?
The work is the product of the two sizes, O(n*m); an index (dict by key) or a join usually makes
it O(n+m).

## Example
```python
for order in orders:
    for customer in customers:     # every customer for every order: index customers by id
        if customer.id == order.customer_id: ...
```""",
)

POP_FRONT = Pattern(
    "pop-front",
    "cpu",
    "pop from the front of a list",
    """\
## What it does
Finds `list.pop(0)` or `list.insert(0, x)` inside a loop.

## Why is this bad?
Removing or adding at the front shifts every element, O(n) per call, so a queue drained this way
costs O(n^2); `collections.deque.popleft()`/`appendleft()` are O(1).

## Example
```python
while queue:
    v = queue.pop(0)     # use a deque and popleft()
```""",
)

SORT_IN_LOOP = Pattern(
    "sort-in-loop",
    "cpu",
    "sort inside a loop",
    """\
## What it does
Finds `sorted(x)` or `x.sort()` inside a loop, where x lives across iterations (not a fresh value
made from the loop's current item).

## Why is this bad?
Re-sorting a growing collection on every iteration costs O(n^2 log n); sort once after the loop,
or keep it ordered with `bisect.insort` or a heap.

## Example
```python
for px in pixels:
    levels.append(level(px))
    levels = sorted(levels)    # sort once, after the loop
```""",
)

DEEPCOPY = Pattern(
    "deepcopy",
    "cpu",
    "deepcopy",
    """\
## What it does
Finds `copy.deepcopy` (any import spelling) in a loop or in a hot function.

## Why is this bad?
deepcopy walks the whole object graph in Python, with a memo dict, for every call; a shallow copy
of what actually changes, or building the new value directly, is far cheaper.

## Example
```python
for record in records:
    rec = copy.deepcopy(record)    # copy only the fields you change: {**record, "word": ...}
```""",
)

REPEATED_COMPUTATION = Pattern(
    "repeated-computation",
    "cpu",
    "repeated computation",
    """\
## What it does
Finds a recursive function with far more total than primitive calls (1,000 times and 10,000
calls or more) and no memoization. A call recomputed with the same arguments on every iteration
of a loop is `loop-invariant-call`.

## Why is this bad?
The same answer is computed again and again: exponential recursion recomputes the same
subproblems. Memoize it (`functools.cache`).

## Example
```python
def count_paths(r, c):
    return count_paths(r - 1, c) + count_paths(r, c - 1)   # exponential: add @functools.cache
```""",
)

LOOP_INVARIANT_CALL = Pattern(
    "loop-invariant-call",
    "cpu",
    "loop-invariant call",
    """\
## What it does
Finds a call, inside a loop, to a pure project function whose arguments the loop never changes,
where that call site carries the callee's measured time. The finding is on the caller (where the
fix goes), the callee named in its evidence; the callee's time reached from that call site counts
in the caller's share, not in the callee's. Not a finding: a call whose arguments read the loop
variable or anything the loop assigns or mutates; a call with no arguments; a method call on an
object; a callee that is a generator, uses `global` state, mutates its arguments, or reads a clock
or random numbers.

## Why is this bad?
The callee computes the same answer on every iteration: n iterations pay n times for one result.
Compute it once before the loop (or cache it).

## Example
```python
for item in items:
    item["open"] = item["day"] in opening_days(year, region)   # same answer every time
# days = opening_days(year, region) before the loop, then `item["day"] in days`
```""",
)

STRING_CONCAT_IN_LOOP = Pattern(
    "string-concat-in-loop",
    "cpu",
    "string concatenation in a loop",
    """\
## What it does
Finds `s = s + x`, `s = x + s` or `s += x` on a string inside a loop.

## Why is this bad?
Strings are immutable; each concatenation may copy everything built so far, O(n^2) in the worst
case. Collect the pieces in a list and `"".join()` them once.

## Example
```python
body = "["
for item in items:
    body = body + json.dumps(item)     # parts.append(...); "".join(parts)
```""",
)

SERIALIZE_IN_LOOP = Pattern(
    "serialize-in-loop",
    "cpu",
    "serialization in a loop",
    """\
## What it does
Finds json, pickle, yaml or marshal `dumps`/`loads` (and `dump`/`load`) inside a loop.

## Why is this bad?
Each call pays the serializer's set-up (encoder objects, options such as indent and sort_keys)
and walks its argument again; serialize the whole collection once, or build plain values and
encode them at the end.

## Example
```python
for order in orders:
    body += json.dumps(order, indent=2)    # json.dumps(orders) once
```""",
)

REGEX_IN_LOOP = Pattern(
    "regex-in-loop",
    "cpu",
    "regex built in a loop",
    """\
## What it does
Finds `re.compile(p)` or `re.<fn>(p, ...)` inside a loop where the pattern p is built in the loop
(an f-string, a concatenation, or a value that changes per iteration). A constant pattern in a
loop is fine (re caches it) and is not reported.

## Why is this bad?
A pattern that changes defeats re's small cache, so each call compiles anew; compile once
outside the loop (or build one alternation pattern).

## Example
```python
for word in words:
    if re.search(f"^{word}$", text): ...     # compile once, or use a set lookup
```""",
)

PATTERNS = (
    QUADRATIC_MEMBERSHIP,
    NESTED_LOOP,
    POP_FRONT,
    SORT_IN_LOOP,
    DEEPCOPY,
    REPEATED_COMPUTATION,
    LOOP_INVARIANT_CALL,
    STRING_CONCAT_IN_LOOP,
    SERIALIZE_IN_LOOP,
    REGEX_IN_LOOP,
    CPU_HOTSPOT,
)
