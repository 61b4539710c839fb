"""Exact loop iterations, compiled into the project's own functions (the plain run only).

The nested-loop pattern asks whether an inner loop grows with the outer one: a parser's few
arcs per state or one or two arrays per row do not, a scan of every customer for every order
does. Samples cannot tell; exact iteration counts can. So, in the plain timing run (a counter in
a tight loop costs about as much as its body, which a sampled run would then measure), every
loop of a def that holds a loop inside a loop counts its iterations:

- a statement loop (`for`, `async for`, `while`) with `__perfscan_probe_loops__[j] += 1` at the
  top of its body;
- a comprehension's generator with a first `if` that calls a C counter
  (`itertools.count(1).__next__`, always true), read back from the counter's repr at the end.

A loop is named by the position of its target (a while loop: its test), `loop_position`; the
host names loops the same way. Nested defs, classes and lambdas are other code: their loops are
theirs. The names are builtins, as calls.py's are, so they resolve in any globals.
"""

import ast
import builtins
import itertools
from typing import Any, List

from .edits import increment, item, locate

LOOPS = "__perfscan_probe_loops__"  # iterations of each counted statement loop
TICKS = "__perfscan_probe_ticks__"  # each counted comprehension generator's counter (a C callable)


class LoopCounter:
    def __init__(self):
        self.loops = []  # [file, line, column] of each counted loop (loop_position)
        self.counts = []  # statement loops' iterations, by loop index
        self.ticks = []  # comprehension loops' itertools.count objects (None for statement loops)
        self.tick_calls = []  # their __next__, what the compiled code calls

    def install(self):
        setattr(builtins, LOOPS, self.counts)
        setattr(builtins, TICKS, self.tick_calls)

    def register(self, filename, position, comprehension):
        index = len(self.loops)
        self.loops.append([filename, position[0], position[1]])
        self.counts.append(0)
        tick = itertools.count(1) if comprehension else None
        self.ticks.append(tick)
        self.tick_calls.append(tick.__next__ if tick is not None else None)
        return index

    def export(self):
        """[[file, line, column, iterations]] of the loops that ran."""
        out = []
        for i, where in enumerate(self.loops):
            n = self.counts[i]
            tick = self.ticks[i]
            if tick is not None:
                n += int(repr(tick)[6:-1]) - 1  # "count(N)": N - 1 calls so far
            if n:
                out.append(where + [n])
        return out

    def instrument(self, filename, func):
        """Count every loop of `func`'s own body, when one of them is inside another."""
        loops = _own_loops(func)
        if not any(depth > 0 for _node, _gen, depth in loops):
            return  # no loop inside a loop: nothing the nested-loop pattern would ask about
        for node, gen, _depth in loops:
            index = self.register(filename, loop_position(node, gen), gen is not None)
            if gen is not None:
                tick = ast.Call(item(TICKS, index, ast.Load()), [], [])
                locate(tick, gen.target)
                gen.ifs.insert(0, tick)
            else:
                stmt = increment(LOOPS, index, 1)
                locate(stmt, node.body[0])
                node.body.insert(0, stmt)


def loop_position(node, generator=None):
    """(line, column) naming a loop: its target's (a comprehension's generator: that generator's
    target; a while loop: its test's)."""
    at = generator.target if generator is not None else (node.test if isinstance(node, ast.While) else node.target)
    return at.lineno, at.col_offset


def _own_loops(func):
    """The loops of a def's own body (nested defs, classes and lambdas run elsewhere), each with
    how many loops are around it: [(loop node, generator or None, depth)]."""
    out: List[Any] = []

    def visit(node, depth):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            if isinstance(child, (ast.For, ast.AsyncFor, ast.While)):
                out.append((child, None, depth))
                visit(child, depth + 1)
            elif isinstance(child, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                for i, gen in enumerate(child.generators):
                    out.append((child, gen, depth + i))
                visit(child, depth + len(child.generators))
            else:
                visit(child, depth)

    visit(func, 0)
    return out
