"""Blocking calls an `async def` makes through the sync project functions it calls.

From each call in the coroutine's own code to a sync project function (resolved through
imports by `project_index.py`), follow that function's own calls to other sync project functions,
up to three calls deep, to the blocking calls they make (`async def quote()` -> `fetch_rates()`
-> `requests.get`). What runs in a nested def or lambda, or a function handed uncalled to
`to_thread` or `run_in_executor`, is not followed: it is not run by the coroutine. A function
under a decorator perfscan does not know is not followed either (`@sync_to_async` moves it off
the loop); the standard ones that leave it where it runs are (`staticmethod`, `lru_cache`,
`contextmanager`, ...). Recursion is cut where it loops. Only async functions are reported:
a sync helper that blocks is fine when only sync code calls it.
"""

from __future__ import annotations

import ast
import weakref
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Tuple

from perfscan.passes.async_pass.blocking_sites import blocking_calls_in
from perfscan.passes.async_pass.scope import ModuleInfo, ProjectLookup, Scope
from perfscan.sources import FunctionInfo

MAX_DEPTH = 3  # sync functions in a chain
MAX_PER_FUNCTION = 20  # blocking calls kept per function reached: enough to show, bounded on odd code

# Decorators that leave a sync function running where it is called.
TRANSPARENT = frozenset(
    {
        "builtins.staticmethod",
        "builtins.classmethod",
        "functools.cache",
        "functools.lru_cache",
        "contextlib.contextmanager",
        "abc.abstractmethod",
        "typing.final",
        "typing.override",
        "typing_extensions.override",
    }
)


@dataclass(frozen=True)
class Hop:
    """One sync function on the way, and the line in it of the next call (or the blocking call)."""

    function: str  # module:qualname
    name: str  # as the evidence shows it: `fetch_rates`, or the class for its __init__
    file: str
    line: int


@dataclass(frozen=True)
class Reached:
    name: str  # the blocking call's real name
    line: int  # where the coroutine makes the first call of the chain
    via: Tuple[Hop, ...]  # the sync project functions, outermost first


Chain = Tuple[Tuple[Hop, ...], str]

# What each function reaches at each depth, per project index (one per scan).
_MEMO: weakref.WeakKeyDictionary[ProjectLookup, Dict[Tuple[str, int], List[Chain]]] = weakref.WeakKeyDictionary()


def reached(scope: Scope) -> List[Reached]:
    """Each blocking call reached from the coroutine's calls into sync project code, one chain
    per (call site, blocking call): the first found, which is the shallowest for that site."""
    index = scope.mod.project
    if index is None:
        return []
    out: List[Reached] = []
    seen = set()
    own = frozenset({_key(scope.mod, scope.info)})
    for line, mod, fn in project_calls(index, scope):
        for via, name in _below(index, mod, fn, MAX_DEPTH, own):
            if (line, name) not in seen:
                seen.add((line, name))
                out.append(Reached(name, line, via))
    out.sort(key=lambda r: (r.line, len(r.via)))
    return out


def project_calls(index: ProjectLookup, scope: Scope) -> List[Tuple[int, ModuleInfo, FunctionInfo]]:
    """(line, module, function) of each call the function makes to a sync project function."""
    out = []
    for node in scope.nodes:
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in ("self", "cls"):
            target = index.method(scope.mod, scope.info, func.attr)
        else:
            name = scope.call_name(node)
            target = index.function(name) if name is not None else None
        if target is None:
            continue
        mod, fn = target
        if not fn.is_async and _transparent(mod, fn):
            out.append((node.lineno, mod, fn))
    return out


def _below(index: ProjectLookup, mod: ModuleInfo, fn: FunctionInfo, depth: int, stack: FrozenSet[str]) -> List[Chain]:
    """Blocking calls a sync function makes itself or through `depth - 1` more calls."""
    key = _key(mod, fn)
    memo = _MEMO.setdefault(index, {})
    if (key, depth) in memo:
        return memo[key, depth]
    scope = index.scope(mod, fn)
    out: List[Chain] = [((Hop(key, _shown(fn), mod.file, line),), name) for name, line in blocking_calls_in(scope)]
    if depth > 1:
        for line, cmod, cfn in project_calls(index, scope):
            ckey = _key(cmod, cfn)
            if ckey == key or ckey in stack:
                continue
            for via, name in _below(index, cmod, cfn, depth - 1, stack | {key}):
                out.append(((Hop(key, _shown(fn), mod.file, line),) + via, name))
                if len(out) >= MAX_PER_FUNCTION:
                    break
    out = out[:MAX_PER_FUNCTION]
    memo[key, depth] = out
    return out


def _transparent(mod: ModuleInfo, fn: FunctionInfo) -> bool:
    for deco in fn.node.decorator_list:
        expr = deco.func if isinstance(deco, ast.Call) else deco
        if mod.aliases.resolve(expr) not in TRANSPARENT:
            return False
    return True


def _shown(fn: FunctionInfo) -> str:
    """A constructor shows as its class (`Datasette()`), anything else by its name."""
    if fn.name == "__init__" and "." in fn.qualname:
        return fn.qualname.rpartition(".")[0].rpartition(".")[2]
    return fn.name


def _key(mod: ModuleInfo, fn: FunctionInfo) -> str:
    return f"{mod.module}:{fn.qualname}"
