"""What a module's source says about its imports: which statement imported a module, which
module-level statement does the work, and which functions use an imported name."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterator, List, Optional, Set, Tuple, Union, cast

from perfscan.astutil import absolute_module, package_of

_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_NO_WORK = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.Pass, ast.Global, ast.Nonlocal)


@dataclass(frozen=True)
class Statement:
    line: int
    text: str  # its first line, shortened


def statement(node: ast.stmt, source: str) -> Statement:
    segment = ast.get_source_segment(source, node) or ""
    first = segment.splitlines()[0].strip() if segment else type(node).__name__
    return Statement(node.lineno, first if len(first) <= 100 else first[:97] + "...")


def executed_at_import(tree: ast.Module) -> Iterator[ast.stmt]:
    """Statements that run when the module is imported: the body and the blocks of if, try,
    with and class bodies at module level; never function bodies."""
    stack: List[ast.stmt] = list(reversed(tree.body))
    while stack:
        node = stack.pop()
        yield node
        blocks: List[List[ast.stmt]] = []
        if isinstance(node, (ast.If, ast.With, ast.AsyncWith)):
            blocks = [node.body, getattr(node, "orelse", [])]
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            tried = cast(ast.Try, node)  # TryStar (3.11+) has Try's fields
            blocks = [tried.body] + [h.body for h in tried.handlers] + [tried.orelse, tried.finalbody]
        elif isinstance(node, ast.ClassDef):
            blocks = [node.body]
        for block in reversed(blocks):
            stack.extend(reversed(block))


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> Optional[str]:
    return absolute_module(node.module, node.level, package_of(module, is_package)) or None


def _prefixes(name: str) -> Set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def modules_imported(node: ast.stmt, module: str, is_package: bool) -> Set[str]:
    """Every module an import statement may load (parents included)."""
    out: Set[str] = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            out |= _prefixes(alias.name)
    elif isinstance(node, ast.ImportFrom):
        base = _resolve(node, module, is_package)
        if base:
            out |= _prefixes(base)
            out |= {f"{base}.{a.name}" for a in node.names if a.name != "*"}
    return out


def find_import(
    tree: ast.Module, source: str, module: str, is_package: bool, imported: str
) -> Optional[Tuple[ast.stmt, Statement]]:
    """The first statement of `module` that imports `imported`; import-time ones first."""
    at_import = [n for n in executed_at_import(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    anywhere = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    for group in (at_import, anywhere):
        for node in sorted(group, key=lambda n: n.lineno):
            if imported in modules_imported(node, module, is_package):
                return node, statement(node, source)
    return None


def bound_names(node: ast.stmt, imported: str, module: str, is_package: bool) -> Optional[Set[str]]:
    """Names an import statement binds for `imported` (or a module below it); None when a star
    import makes that unknowable."""
    names: Set[str] = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == imported or alias.name.startswith(imported + ".") or imported.startswith(alias.name + "."):
                names.add(alias.asname or alias.name.split(".")[0])
    elif isinstance(node, ast.ImportFrom):
        base = _resolve(node, module, is_package) or ""
        related = base == imported or base.startswith(imported + ".") or imported.startswith(base + ".")
        if not related:
            return names
        for alias in node.names:
            if alias.name == "*":
                return None
            names.add(alias.asname or alias.name)
    return names


def _future_annotations(tree: ast.Module) -> bool:
    return any(
        isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
        for n in tree.body
    )


class _Uses(ast.NodeVisitor):
    """Where names are read: in which functions' bodies, and whether at import time."""

    def __init__(self, names: Set[str], lazy_annotations: bool) -> None:
        self.names = names
        self.lazy_annotations = lazy_annotations
        self.prefix: List[str] = []  # qualname parts: classes and functions
        self.in_function = 0
        self.current: List[str] = []  # qualnames of the enclosing functions
        self.functions: List[str] = []
        self.module_level = False

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in self.names and isinstance(node.ctx, ast.Load):
            if self.current:
                if self.current[-1] not in self.functions:
                    self.functions.append(self.current[-1])
            else:
                self.module_level = True

    def _annotation(self, node: Optional[ast.AST]) -> None:
        if node is not None and not self.lazy_annotations:
            self.visit(node)

    def _function(self, node: Union[ast.FunctionDef, ast.AsyncFunctionDef]) -> None:
        # decorators, defaults and (eager) annotations run where the def is, not in the body
        for d in node.decorator_list:
            self.visit(d)
        args = node.args
        for d in list(args.defaults) + [d for d in args.kw_defaults if d is not None]:
            self.visit(d)
        for a in list(args.posonlyargs) + list(args.args) + list(args.kwonlyargs) + [args.vararg, args.kwarg]:
            if a is not None:
                self._annotation(a.annotation)
        self._annotation(node.returns)
        name = node.name
        qual = ".".join(self.prefix + [name])
        self.prefix += [name, "<locals>"]
        self.current.append(qual)
        for stmt in node.body:
            self.visit(stmt)
        self.current.pop()
        del self.prefix[-2:]

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for d in list(node.decorator_list) + list(node.bases) + [k.value for k in node.keywords]:
            self.visit(d)
        self.prefix.append(node.name)
        for stmt in node.body:
            self.visit(stmt)
        self.prefix.pop()

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._annotation(node.annotation)
        for sub in (node.target, node.value):
            if sub is not None:
                self.visit(sub)

    def visit_If(self, node: ast.If) -> None:
        if _type_checking_block(node):
            for stmt in node.orelse:
                self.visit(stmt)
            return
        self.generic_visit(node)


def uses_of(tree: ast.Module, names: Set[str]) -> Tuple[List[str], bool]:
    """Functions whose bodies read one of `names`, and whether code run at import time reads one
    (then the module needs it when imported, and a local import would not help)."""
    visitor = _Uses(names, _future_annotations(tree))
    visitor.visit(tree)
    return visitor.functions, visitor.module_level


def _type_checking_block(node: ast.stmt) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def work_statement(tree: ast.Module, source: str) -> Optional[Statement]:
    """The module-level statement most likely doing the module's own import-time work.

    A call to a function of the module itself ranks first (it is how tables get built), then
    loops and comprehensions (more nested generators rank higher), then other calls. A module
    with no such statement gets None: its time may be its sheer size.
    """
    local_functions = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    best: Optional[Tuple[int, ast.stmt]] = None
    for node in executed_at_import(tree):
        if isinstance(node, _NO_WORK) or isinstance(node, (ast.ClassDef, ast.Try)) or _type_checking_block(node):
            continue
        if isinstance(node, (ast.If, ast.With, ast.AsyncWith)):
            parts: List[ast.AST] = [node.test] if isinstance(node, ast.If) else list(node.items)
        else:
            parts = [node]
        score = sum(_score(p, local_functions) for p in parts)
        if score and (best is None or score > best[0]):
            best = (score, node)
    return statement(best[1], source) if best else None


def _score(node: ast.AST, local_functions: Set[str]) -> int:
    score = 0
    for sub in ast.walk(node):
        if isinstance(sub, _LOOPS):
            score += 5
        elif isinstance(sub, _COMPREHENSIONS):
            score += 2 + 3 * len(sub.generators)  # each generator is a loop
        elif isinstance(sub, ast.Call):
            func = sub.func
            score += 8 if isinstance(func, ast.Name) and func.id in local_functions else 1
    return score
