"""From the sampling engine's weighted stacks to per-function own, cumulative and attributable time.

The CPU pass's rules, stated on stacks. A stack runs outermost to
innermost; each frame maps to a project function or to nothing (pytest, stdlib, libraries).
Comprehension, generator-expression and lambda frames map to the function that defines them,
and a run of such frames right after their function's frame folds into one occurrence of it.

- own: samples whose innermost frame is the function (after folding). C functions have no
  frame, so a builtin called by the function (list.pop, sorted) counts in its own time; the
  line of the innermost frame says which call was running (`line_own`).
- cumulative: samples with the function anywhere on the stack, once per sample however deep
  the recursion.
- attributable: cumulative minus the samples under a direct project callee other than itself,
  judged at the function's innermost occurrence: a -> b -> a(innermost) is a's, not b's;
  a -> a -> b is b's. Recursive calls stay in.
- callee time from a function (pattern backing): the samples under each non-project frame
  called directly by one of its occurrences, once per sample; project callees by name the same.
- callers: the frame just above its outermost occurrence, by sampled seconds.
- by line (what the patterns' backing is measured at): the function's attributable samples by
  the line its innermost occurrence was at (`line_seconds`, callees that are not project code
  included), and the samples under each direct project callee by the line that called it
  (`callee_lines`); and its attributable samples by the project function and line that called it
  directly (`via`: what the loop-invariant-call rule moves to a caller).

Everything here is pure: plain data in, plain data out.
"""

from __future__ import annotations

import ast
import builtins
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Dict, Hashable, Iterable, List, Optional, Sequence, Set, Tuple, TypeVar

from perfscan.passes.cpu.records import Frame, Stack

K = TypeVar("K", bound=Hashable)  # the caller's function key
# (function key, folded frame?) for a frame index, or None for a frame that is not project code
Owner = Optional[Tuple[K, bool]]


@dataclass
class Sampled:
    """What the samples say about one function."""

    own: Dict[str, float] = field(default_factory=lambda: defaultdict(float))
    cumulative: Dict[str, float] = field(default_factory=lambda: defaultdict(float))
    under_project_callees: Dict[str, float] = field(default_factory=lambda: defaultdict(float))
    line_own: Dict[int, float] = field(default_factory=lambda: defaultdict(float))
    callee_time: Dict[Tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    project_callee_by_name: Dict[str, float] = field(default_factory=lambda: defaultdict(float))
    caller_seconds: Dict[str, float] = field(default_factory=lambda: defaultdict(float))
    tests: Dict[int, float] = field(default_factory=lambda: defaultdict(float))  # attributable seconds by test index
    line_seconds: Dict[int, float] = field(default_factory=lambda: defaultdict(float))  # attributable seconds by line
    # (calling line, project callee's name) -> seconds under that callee from that line
    callee_lines: Dict[Tuple[int, str], float] = field(default_factory=lambda: defaultdict(float))
    # (direct project caller's label, its line) -> phase -> attributable seconds reached from there
    via: Dict[Tuple[str, int], Dict[str, float]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(float))
    )
    samples: int = 0

    def attributable(self, phase: Optional[str] = None) -> float:
        phases = [phase] if phase else list(self.cumulative)
        return sum(self.cumulative.get(p, 0.0) - self.under_project_callees.get(p, 0.0) for p in phases)


def occurrences(
    stack: Sequence[Tuple[int, int]], owners: Callable[[int], Owner[K]]
) -> List[Tuple[Optional[K], int, int]]:
    """Split a stack into (function key or None, first frame, last frame) runs, folding comprehensions."""
    out: List[Tuple[Optional[K], int, int]] = []
    for i, (fi, _line) in enumerate(stack):
        owner = owners(fi)
        key = owner[0] if owner is not None else None
        folded = owner[1] if owner is not None else False
        if out and key is not None and folded and out[-1][0] == key:
            out[-1] = (key, out[-1][1], i)
        else:
            out.append((key, i, i))
    return out


def aggregate(
    stacks: Iterable[Stack],
    owners: Callable[[int], Owner[K]],
    frames: Sequence[Frame],
    label: Callable[[K], str],
    name: Callable[[K], str],
) -> Dict[K, Sampled]:
    """frames: the frames table the stacks index (for non-project callees and callers)."""
    out: Dict[K, Sampled] = {}
    for entry in stacks:
        phase, test, stack, weight, count = entry.phase, entry.test, entry.frames, entry.seconds, entry.count
        if weight <= 0 or not stack:
            continue
        occ = occurrences(stack, owners)
        innermost: Dict[K, int] = {}
        for j, (key, _s, _e) in enumerate(occ):
            if key is not None:
                innermost[key] = j
        deepest = max(innermost.values(), default=-1)  # the project function the sample's time belongs to
        for key, j in innermost.items():
            fn = out.get(key)
            if fn is None:
                fn = out[key] = Sampled()
            fn.cumulative[phase] += weight
            fn.samples += count
            # a project function deeper down, called directly or through library code (a context
            # manager, sorted(key=...), a generator driven by next()), owns this time, not the caller
            if j < deepest:
                fn.under_project_callees[phase] += weight
            else:
                fn.tests[test] += weight
                fn.line_seconds[stack[occ[j][2]][1]] += weight
                pkey = occ[j - 1][0] if j > 0 else None
                if pkey is not None and pkey != key:
                    fn.via[(label(pkey), stack[occ[j - 1][2]][1])][phase] += weight
        last_key, _s, last = occ[-1]
        if last_key is not None:
            fn = out[last_key]
            fn.own[phase] += weight
            fn.line_own[stack[last][1]] += weight
        # callees and callers: each distinct one once per sample
        callees: Dict[K, Set[Tuple[str, str]]] = defaultdict(set)
        by_name: Dict[K, Set[str]] = defaultdict(set)
        by_line: Dict[K, Set[Tuple[int, str]]] = defaultdict(set)
        callers: Dict[K, str] = {}
        seen: Set[K] = set()
        for j, (key, _start, end) in enumerate(occ):
            if key is None:
                continue
            outermost = key not in seen
            seen.add(key)
            if j + 1 < len(occ):
                nkey, nstart, _ne = occ[j + 1]
                if nkey is None:
                    f = frames[stack[nstart][0]]
                    callees[key].add((f.file, f.name))
                elif nkey != key:
                    by_name[key].add(name(nkey))
                    by_line[key].add((stack[end][1], name(nkey)))
            if outermost and j > 0:
                pkey, _ps, pend = occ[j - 1]
                callers[key] = label(pkey) if pkey is not None else _short(frames[stack[pend][0]])
        for key, items in callees.items():
            for item in items:
                out[key].callee_time[item] += weight
        for key, names in by_name.items():
            for n in names:
                out[key].project_callee_by_name[n] += weight
        for key, sites in by_line.items():
            for site in sites:
                out[key].callee_lines[site] += weight
        for key, who in callers.items():
            out[key].caller_seconds[who] += weight
    return out


def _short(frame: Frame) -> str:
    base = frame.file.replace("\\", "/").rsplit("/", 1)[-1]
    return f"{base}:{frame.line}({frame.name})"


# -- which C functions a line can be running ---------------------------------------------------

# modules whose functions are C functions of another module (cProfile names the C module)
C_MODULES = {
    "pickle": "_pickle",
    "cPickle": "_pickle",
    "heapq": "_heapq",
    "bisect": "_bisect",
    "functools": "_functools",
    "operator": "_operator",
}
METHOD_TYPES = ("list", "tuple", "dict", "set", "frozenset", "str", "bytes", "bytearray", "collections.deque")
_BUILTINS = frozenset(dir(builtins))


def c_call_names(fn_node: ast.AST, aliases: Dict[str, str]) -> Dict[int, List[str]]:
    """line -> cProfile-style names of the C functions a call on that line may be running.

    A sample whose innermost frame is the function, at a line holding a call, is time in that
    call when the callee is C code (C functions have no frame of their own). The names follow
    cProfile's ("<built-in method builtins.sorted>", "<method 'pop' of 'list' objects>") so the
    pattern modules' callee tests apply unchanged. The receiver's type of a method call is not
    known here: every builtin container type is offered, and the patterns check the type.
    Calls in nested defs are another function's; lambdas and comprehensions are this one's.
    """
    out: Dict[int, List[str]] = defaultdict(list)
    stack = list(ast.iter_child_nodes(fn_node))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(node))
        if not isinstance(node, ast.Call):
            continue
        names = _names_of(node.func, aliases)
        if not names:
            continue
        end = getattr(node, "end_lineno", None) or node.lineno
        for line in range(node.lineno, end + 1):
            out[line].extend(names)
    return dict(out)


def _names_of(func: ast.AST, aliases: Dict[str, str]) -> List[str]:
    if isinstance(func, ast.Name):
        real = aliases.get(func.id)
        if real is None:
            return [f"<built-in method builtins.{func.id}>"] if func.id in _BUILTINS else []
        mod, _, fn = real.rpartition(".")
        return [f"<built-in method {C_MODULES.get(mod, mod)}.{fn}>"] if mod else []
    if isinstance(func, ast.Attribute):
        base = func.value
        parts = []
        while isinstance(base, ast.Attribute):
            parts.append(base.attr)
            base = base.value
        if isinstance(base, ast.Name) and base.id in aliases and not parts:
            mod = aliases[base.id]
            return [f"<built-in method {C_MODULES.get(mod, mod)}.{func.attr}>"]
        return [f"<method '{func.attr}' of '{t}' objects>" for t in METHOD_TYPES]
    return []
