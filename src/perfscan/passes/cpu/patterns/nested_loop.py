"""nested-loop: a loop inside a loop over two collections that both grow with the input.

What it finds, why it costs, and an example: its catalog row
(perfscan/catalog/cpu.py; `perfscan explain nested-loop`).

Not a nested loop:
- an inner loop over a small constant collection: a literal, `range(3)`, or a module-level
  tuple or frozenset of a few items (`for field in FIELDS`);
- an inner loop over the current item's own children (`for w in graph.adj[v]`);
- an inner loop whose every iteration adds an element to the result (`[[d(p, q) for q in pts]
  for p in pts]`, a row appended per pair): the result itself has that many elements, so the
  work is the output's size, not a search that an index would cut;
- where the exact loop counts of the plain run say the inner loop does not grow with the outer
  one: fewer than `MIN_INNER` iterations per outer iteration (a parser's arcs per state), or
  fewer than `GROWTH` times the outer loop's iterations per entry (a window, one or two arrays).

Backing: the time measured at the inner loop's lines (sampling engine), less lines a call pattern
claims; the function's own time under cProfile.
"""

from __future__ import annotations

import ast
from typing import Dict, Mapping, Optional, Set, Tuple

from perfscan.astutil import dotted
from perfscan.passes.cpu.patterns.astkit import COMPS, Site, loop_position, names_in, walk_with_loops
from perfscan.passes.cpu.patterns.base import FunctionFacts, Match

ID = "nested-loop"
MIN_INNER = 8  # inner iterations per outer iteration below which the inner loop is a small fixed fan-out
GROWTH = 0.1  # inner iterations per outer iteration, as a share of the outer loop's iterations per entry
BUILT = (ast.ListComp, ast.SetComp, ast.DictComp)


def _grows(iter_node: ast.AST, constants: Mapping[str, int]) -> bool:
    if isinstance(iter_node, (ast.List, ast.Tuple, ast.Set, ast.Constant)):
        return False
    if isinstance(iter_node, ast.Name) and iter_node.id in constants:
        return False
    if isinstance(iter_node, ast.Call) and isinstance(iter_node.func, ast.Name) and iter_node.func.id == "range":
        return not all(isinstance(a, ast.Constant) for a in iter_node.args)
    return bool(names_in(iter_node))


def _range_over_whole(iter_node: ast.AST, per_iteration: Set[str]) -> bool:
    """`range(i + 1, len(xs))`: an index range over a whole collection, not the current item's children."""
    if not (isinstance(iter_node, ast.Call) and isinstance(iter_node.func, ast.Name) and iter_node.func.id == "range"):
        return False
    for arg in iter_node.args:
        for sub in ast.walk(arg):
            if (
                isinstance(sub, ast.Call)
                and isinstance(sub.func, ast.Name)
                and sub.func.id == "len"
                and sub.args
                and not (names_in(sub.args[0]) & per_iteration)
            ):
                return True
    return False


def _parents(func: ast.AST) -> Dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(func) for child in ast.iter_child_nodes(node)}


def _emits_every_iteration(node: ast.AST, parents: Dict[ast.AST, ast.AST]) -> bool:
    """Every iteration of this inner loop adds one element to what the function builds."""
    if isinstance(node, (ast.For, ast.AsyncFor)):
        if len(node.body) != 1 or node.orelse or not isinstance(node.body[0], ast.Expr):
            return False
        value = node.body[0].value
        return isinstance(value, ast.Yield) or (
            isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "append"
        )
    if not isinstance(node, BUILT) or any(gen.ifs for gen in node.generators):
        return False
    parent = parents.get(node)
    while isinstance(parent, (ast.Tuple, ast.List)):  # `[(p, [d(p, q) for q in pts]) for p in pts]`
        parent = parents.get(parent)
    if isinstance(parent, BUILT) and not any(gen.ifs for gen in parent.generators):
        return not any(_contains(gen, node) for gen in parent.generators)
    if (
        isinstance(parent, ast.Call)
        and isinstance(parent.func, ast.Attribute)
        and parent.func.attr == "append"
        and isinstance(parents.get(parent), ast.Expr)
    ):
        stmt = parents[parent]
        return isinstance(parents.get(stmt), (ast.For, ast.AsyncFor))  # a row per outer iteration, no condition
    return False


def _contains(tree: ast.AST, node: ast.AST) -> bool:
    return any(sub is node for sub in ast.walk(tree))


def _inner_grows(facts: FunctionFacts, site: Site, inner_position: Tuple[int, int]) -> Tuple[bool, str]:
    """What the plain run's exact loop counts say, and the figures for the evidence; (True, "")
    when they say nothing."""
    trips = facts.loop_trips
    outer_frame = site.loops[-1]
    if not trips or outer_frame.position not in trips:
        return True, ""  # not counted (or the outer loop never ran there): cannot tell
    outer = trips[outer_frame.position]
    inner = trips.get(inner_position, 0)
    if len(site.loops) > 1:
        entries = trips.get(site.loops[-2].position, 0)
    else:
        entries = facts.calls_total
    if entries <= 0:
        return True, ""
    per_outer = inner / outer
    per_entry = outer / entries
    note = f"; {per_outer:,.0f} inner iterations per outer one, {per_entry:,.0f} outer per entry (exact counts)"
    return per_outer >= MIN_INNER and per_outer >= GROWTH * per_entry, note


def match(facts: FunctionFacts) -> Optional[Match]:
    parents = _parents(facts.node)
    best: Optional[Match] = None
    for site in walk_with_loops(facts.node):
        node = site.node
        if isinstance(node, COMPS):
            iter_node = node.generators[0].iter
            position = loop_position(node, node.generators[0])
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            iter_node = node.iter
            position = loop_position(node)
        else:
            continue
        outer = list(site.loops)
        if not outer or not _grows(iter_node, facts.module_constants):
            continue
        if names_in(iter_node) & site.per_iteration() and not _range_over_whole(iter_node, site.per_iteration()):
            continue  # walks the current item's own children
        if not any(lp.iter_node is None or _grows(lp.iter_node, facts.module_constants) for lp in outer):
            continue
        grows, counted = _inner_grows(facts, site, position)
        if _emits_every_iteration(node, parents) or not grows:
            continue
        backing = facts.structural(node)
        if best is not None and backing <= best.backing:
            continue
        inner = dotted(iter_node) or ast.unparse(iter_node)
        best = Match(
            ID,
            node.lineno,
            f"inner loop over `{inner}` inside another loop (line {node.lineno}){counted}: index one side by key",
            backing,
        )
    return best
