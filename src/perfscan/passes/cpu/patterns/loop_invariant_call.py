"""loop-invariant-call: a project function called inside a loop with arguments the loop never changes.

What it finds, why it costs, and an example: its catalog row
(perfscan/catalog/cpu.py; `perfscan explain loop-invariant-call`).

A call is loop-invariant when it names a project function (`f(...)`, or `mod.f(...)` through an
imported module) and none of its arguments reads a name the loop binds or changes: the loop's
targets, names assigned from them, anything assigned, augmented or mutated by a method call in
the loop (`acc.append(v)` makes `acc` change). Not flagged: a call with no arguments (a clock,
an id), a call in a loop that never reads its own target (`for _ in range(n)`: a repetition asked
for), a method call on an object (its state may change), a callee that is not pure
(`FunctionFacts.callee_is_pure`: a generator, `global` state, mutated arguments, clocks and
random numbers).

Backing: the time measured under that callee from the call's line (sampling engine), or the
callee's time from this function (cProfile). The CPU pass also moves the callee's attributable
time reached from such a call site to the caller (passes/cpu/hoisting.py): the fix is in the
caller's loop, so that is where the report puts the time.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterator, List, Mapping, Optional, Set

from perfscan.passes.cpu.patterns.astkit import LoopFrame, Site, names_in, resolve, root_name, walk_with_loops
from perfscan.passes.cpu.patterns.base import FunctionFacts, Match

ID = "loop-invariant-call"


@dataclass(frozen=True)
class Call:
    node: ast.Call
    callee: str  # the called function's own name, as the profile names project functions
    text: str  # how the source spells it, for the evidence


def calls(facts: FunctionFacts) -> List[Call]:
    """Every call in a loop of this function, to a named function, whose arguments the loop does not change."""
    out = []
    for site in walk_with_loops(facts.node):
        node = site.node
        if not site.in_loop or not isinstance(node, ast.Call) or (not node.args and not node.keywords):
            continue
        if _repeats(site.loops[-1]):
            continue
        callee = _callee(node.func, facts)
        if callee is None:
            continue
        read: Set[str] = set()
        for arg in list(node.args) + [k.value for k in node.keywords]:
            read |= names_in(arg)
        if read & (site.per_iteration() | _changed_in_loops(site)):
            continue
        out.append(Call(node, callee, ast.unparse(node.func)))
    return out


def _callee(func: ast.AST, facts: FunctionFacts) -> Optional[str]:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in facts.aliases:
        real = facts.aliases[func.value.id]
        if "." not in real or real.split(".")[-1] == func.value.id:
            return func.attr  # `cal.opening_days(...)` through `import cal` / `from pkg import cal`
    return None


def seconds_at(facts: FunctionFacts, call: Call) -> float:
    """The callee's time from this call's lines (sampling), or from this function (cProfile)."""
    if facts.callee_lines is None:
        return facts.project_callee_seconds(call.callee)
    first, last = call.node.lineno, call.node.end_lineno or call.node.lineno
    return sum(s for (line, name), s in facts.callee_lines.items() if name == call.callee and first <= line <= last)


def match(facts: FunctionFacts) -> Optional[Match]:
    best: Optional[Match] = None
    for call in calls(facts):
        secs = seconds_at(facts, call)
        if secs <= 0 or not facts.callee_is_pure(call.callee) or (best is not None and secs <= best.backing):
            continue
        line = call.node.lineno
        best = Match(
            ID,
            line,
            f"`{call.text}(...)` is called with the same arguments on every iteration (line {line}): "
            f"compute it once before the loop",
            secs,
        )
    return best


# calls whose answer changes from one call to the next: a function making them is not pure
IMPURE_PREFIXES = ("random.", "time.", "uuid.", "secrets.", "os.urandom", "itertools.count", "next")
IMPURE_CALLS = {"datetime.datetime.now", "datetime.datetime.utcnow", "datetime.date.today", "input", "print"}
MUTATORS = {"append", "extend", "insert", "add", "update", "pop", "popitem", "remove", "discard", "clear", "setdefault"}


def is_pure(node: ast.AST, aliases: Mapping[str, str]) -> bool:
    """Whether a def looks pure enough that calling it twice with the same arguments gives the same
    answer and leaves the same state: not a generator or coroutine (each call makes a fresh one),
    no `global`/`nonlocal`, no assignment into or mutating call on its parameters, no clock, random
    number or id. When unsure: not pure."""
    if not isinstance(node, ast.FunctionDef):
        return False
    params = {a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs}
    for name in (node.args.vararg, node.args.kwarg):
        if name is not None:
            params.add(name.arg)
    for sub in _own_nodes(node):
        if isinstance(sub, (ast.Yield, ast.YieldFrom, ast.Await, ast.Global, ast.Nonlocal)):
            return False
        if isinstance(sub, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = sub.targets if isinstance(sub, (ast.Assign, ast.Delete)) else [sub.target]
            for t in targets:
                if isinstance(t, (ast.Attribute, ast.Subscript)) and root_name(t) in params:
                    return False
        if isinstance(sub, ast.Call):
            real = resolve(sub.func, dict(aliases)) or ""
            if real in IMPURE_CALLS or real.startswith(IMPURE_PREFIXES):
                return False
            if (
                isinstance(sub.func, ast.Attribute)
                and sub.func.attr in MUTATORS
                and root_name(sub.func.value) in params
            ):
                return False
    return True


def _own_nodes(func: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a def's own body: nested defs and classes are not its code."""
    stack = list(ast.iter_child_nodes(func))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _repeats(loop: LoopFrame) -> bool:
    """A loop that never reads its own target (`for _ in range(n)`) repeats its body on purpose (a
    retry, a warm-up, a benchmark): the same call on each pass is what was asked for."""
    if not isinstance(loop.node, (ast.For, ast.AsyncFor)):
        return False
    read = {n.id for stmt in loop.node.body for n in ast.walk(stmt) if isinstance(n, ast.Name)}
    return not (loop.targets & read)


def _changed_in_loops(site: Site) -> Set[str]:
    """Names a loop around the site assigns, augments, deletes or mutates by a method call."""
    out: Set[str] = set()
    for lp in site.loops:
        for node in ast.walk(lp.node):
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    out |= names_in(t)
            elif isinstance(node, ast.NamedExpr):
                out |= names_in(node.target)
            elif isinstance(node, ast.Delete):
                for t in node.targets:
                    out |= names_in(t)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                base = node.func.value
                while isinstance(base, (ast.Attribute, ast.Subscript)):
                    base = base.value
                if isinstance(base, ast.Name):
                    out.add(base.id)  # mutated by a method call in the loop (`acc.append`, `cfg.rules.add`)
    return out
