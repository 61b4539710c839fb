"""Import patterns: what makes start-up slow, blamed on the project import that pulled it in."""

from __future__ import annotations

from perfscan.catalog.pattern import Pattern

IMPORT_TIME_COMPUTATION = Pattern(
    "import-time-computation",
    "import",
    "work at import time",
    """\
## What it does
Reports a project module whose own import time (its self time in `-X importtime`, not counting
the modules it imports) is over 50 ms, and names the module-level statement most likely doing
the work.

## Why is this bad?
Module-level code runs on every start-up that imports the module, whether or not the program
uses its result: every CLI call, worker start and test run pays it. Compute the value on first
use (a function with `functools.cache`), or cache it on disk.

## Example
```python
# rates.py
RATES = {c: fetch_rate(c) for c in CURRENCIES}     # runs on import

@functools.cache
def rates():                                        # instead: on first use
    return {c: fetch_rate(c) for c in CURRENCIES}
```""",
)

HEAVY_EAGER_IMPORT = Pattern(
    "heavy-eager-import",
    "import",
    "heavy eager import",
    """\
## What it does
Reports a third-party module costing over 50 ms to import (cumulative), imported at the top of a
project module that uses it in at most 3 functions and not at import time.

## Why is this bad?
Every start-up pays for the import, including the many that never call the functions needing it.
A local import inside those functions defers the cost to the first call, and start-ups that never
make that call do not pay it at all.

## Example
```python
import pandas as pd                 # 300 ms on every start-up

def export(rows):
    import pandas as pd             # instead: paid only when exporting
    return pd.DataFrame(rows).to_csv()
```""",
)

BARREL_IMPORT = Pattern(
    "barrel-import",
    "import",
    "barrel import",
    """\
## What it does
Reports a project package `__init__.py` that imports two or more of its submodules eagerly, when
a consumer who needs only the cheapest of them pays over 50 ms for the others (the sum of the
eager submodules' cumulative times minus the cheapest one's).

## Why is this bad?
Importing any submodule runs the package's `__init__.py` first, so every consumer pays for every
submodule it re-exports. Load submodules lazily with a module `__getattr__` (PEP 562), or let
consumers import the submodule they need.

## Example
```python
# shop/__init__.py
from shop.reports import build_report     # heavy, loaded by `import shop.cart` too
from shop.cart import Cart

def __getattr__(name):                    # instead: load on first access
    if name == "build_report":
        from shop.reports import build_report
        return build_report
    raise AttributeError(name)
```""",
)

PATTERNS = (IMPORT_TIME_COMPUTATION, HEAVY_EAGER_IMPORT, BARREL_IMPORT)
