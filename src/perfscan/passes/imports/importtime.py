"""Parse `python -X importtime` output (stderr) into a tree of imports.

CPython prints one line per module when its import finishes, so a module's line comes *after*
the lines of the modules it imported, and the indentation of the name gives the nesting:

    import time: self [us] | cumulative | imported package
    import time:       280 |        280 |       _json
    import time:       658 |        938 |     json.scanner

Python 3.14's `-X importtime=2` adds a line for every import of a module that is already loaded,
with the word `cached` in both time columns. CPython writes that name with `%*s` (right-aligned in
a field as wide as the indentation), so the indentation of a cached line is not reliable: cached
lines are placed by a best estimate and never change where timed lines go.

Anything else on stderr (the program's own output, warnings, tracebacks) is ignored, and the
parser never raises on arbitrary text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

# `search`, not `match`: a program that writes to stderr without a newline glues its text to
# the front of the next importtime line.
# After the last bar comes one space, then the indentation (two spaces a level), then the name.
_LINE = re.compile(r"import time:\s*(\d+|cached)\s*\|\s*(\d+|cached)\s*\| ?( *)(\S+)\s*$")


@dataclass
class ImportNode:
    name: str
    self_us: int
    cumulative_us: int
    depth: int
    children: List[ImportNode] = field(default_factory=list)
    cached: bool = False  # an `-X importtime=2` line: already loaded, no times

    def walk(self) -> Iterator[ImportNode]:
        """This node and all below it, parents before children."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def to_dict(self) -> Dict[str, Any]:
        """Plain data; iterative, since a broken stream can nest as deep as it is long."""
        out: Dict[str, Any] = {}
        stack = [(self, out)]
        while stack:
            node, slot = stack.pop()
            slot.update(
                name=node.name, self_us=node.self_us, cumulative_us=node.cumulative_us, cached=node.cached, children=[]
            )
            for child in node.children:
                sub: Dict[str, Any] = {}
                slot["children"].append(sub)
                stack.append((child, sub))
        return out


@dataclass(frozen=True)
class _Line:
    name: str
    self_us: int
    cumulative_us: int
    indent: int
    cached: bool


def parse_line(text: str) -> Optional[_Line]:
    """One importtime line, or None for the header and for anything that is not one."""
    m = _LINE.search(text)
    if m is None:
        return None
    first, second, indent, name = m.groups()
    if (first == "cached") != (second == "cached"):
        return None
    if first == "cached":
        return _Line(name, 0, 0, len(indent), True)
    return _Line(name, int(first), int(second), len(indent), False)


def parse_importtime(text: str) -> List[ImportNode]:
    """The forest of imports in `text`, roots in the order they finished."""
    return build_tree([ln for ln in map(parse_line, text.splitlines()) if ln is not None])


def _cached_names_right_aligned(lines: List[_Line]) -> bool:
    """Whether cached names are right-aligned (CPython 3.14's `%*s`) or indented like timed ones.

    Right-aligned padding plus the name always fills an even width, so an odd total proves
    indentation; without proof, assume CPython's own format.
    """
    return not any(ln.cached and ln.indent and (ln.indent + len(ln.name)) % 2 for ln in lines)


def build_tree(lines: List[_Line]) -> List[ImportNode]:
    right_aligned = _cached_names_right_aligned(lines)
    # Timed nodes wait on `pending` until a shallower line adopts them as its children.
    pending: List[ImportNode] = []
    # Cached nodes wait apart, so a misplaced one can never block the timed tree.
    waiting: List[Tuple[ImportNode, Optional[int]]] = []  # node, bound on its depth when unsure
    seq: Dict[int, int] = {}  # id(node) -> line order, to keep adopted cached lines in place
    top: List[ImportNode] = []  # cached lines at depth 0: no line can adopt them
    for line in lines:
        if line.cached:
            node = ImportNode(line.name, 0, 0, 0, cached=True)
            seq[id(node)] = len(seq)
            if not right_aligned:
                node.depth = line.indent // 2
                waiting.append((node, None))
            elif line.indent:
                node.depth = (line.indent + len(line.name)) // 2
                waiting.append((node, None))
            else:
                # A name as wide as its field: only an upper bound is known.
                waiting.append((node, len(line.name) // 2))
            continue
        depth = line.indent // 2
        node = ImportNode(line.name, line.self_us, line.cumulative_us, depth)
        seq[id(node)] = len(seq)
        start = len(pending)
        while start > 0 and pending[start - 1].depth > depth:
            start -= 1
        node.children = pending[start:]
        del pending[start:]
        still: List[Tuple[ImportNode, Optional[int]]] = []
        for cached, bound in waiting:
            if bound is not None:
                # Its importer's line comes later and is at most one level above this one.
                cached.depth = min(bound, depth + 1)
            if cached.depth > depth:
                node.children.append(cached)
            elif cached.depth == 0:
                top.append(cached)
            else:
                still.append((cached, None))
        waiting = still
        if any(c.cached for c in node.children):
            node.children.sort(key=lambda c: seq[id(c)])
        pending.append(node)
    pending.extend(top)
    pending.extend(cached for cached, _ in waiting)
    pending.sort(key=lambda n: seq[id(n)])
    for root in pending:
        _set_depths(root, 0)
    return pending


def _set_depths(root: ImportNode, depth: int) -> None:
    """Depth from the tree itself, so a gap in the indentation of a broken stream cannot show."""
    stack = [(root, depth)]
    while stack:
        node, d = stack.pop()
        node.depth = d
        stack.extend((c, d + 1) for c in node.children)


def find_root(roots: List[ImportNode], module: str) -> Optional[ImportNode]:
    """The tree of `import module`: the last root with that name (imports after it are the
    interpreter's own, e.g. traceback printing an error)."""
    for node in reversed(roots):
        if node.name == module and not node.cached:
            return node
    return None


def flatten(roots: Iterable[ImportNode]) -> Iterator[Tuple[ImportNode, Tuple[ImportNode, ...]]]:
    """Every node with its ancestors (outermost first)."""
    stack: List[Tuple[ImportNode, Tuple[ImportNode, ...]]] = [(r, ()) for r in reversed(list(roots))]
    while stack:
        node, ancestors = stack.pop()
        yield node, ancestors
        below = ancestors + (node,)
        stack.extend((c, below) for c in reversed(node.children))
