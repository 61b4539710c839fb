"""What a project line waits in: the call expression on it, and what kind of wait that is.

A waiting sample tells the line a project function stood on and, when the call went through
Python code, the library function it called (requests' `get`, Django's `execute`); a call into
C (`time.sleep`, `socket.recv`, a lock) leaves no frame. The call is read from the line with
`ast`: among the calls on it, the one the library frame names, else the one a waiting catalog
knows, else the first. The kind (sleep, lock, query, io, thread) is what the waiting patterns
look at; a wait of no known kind is still reported, by its call.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from typing import Dict, Iterator, Optional, Sequence, Tuple

from perfscan.passes.cpu.patterns.astkit import resolve

SLEEPS = frozenset({"time.sleep", "gevent.sleep", "eventlet.sleep"})
# methods whose waiting is a lock's, a condition's or a queue's
LOCK_METHODS = frozenset({"acquire", "wait", "wait_for"})
QUEUE_METHODS = frozenset({"get", "put", "join"})
QUERY_METHODS = frozenset({"execute", "executemany", "executescript", "fetchone", "fetchall", "fetchmany", "callproc"})
IO_METHODS = frozenset(
    {
        "recv",
        "recv_into",
        "recvfrom",
        "recvmsg",
        "send",
        "sendall",
        "sendto",
        "sendfile",
        "connect",
        "accept",
        "urlopen",
        "request",
        "getresponse",
        "read",
        "readline",
        "readlines",
        "readinto",
        "write",
        "flush",
        "communicate",
        "check_output",
        "check_call",
        "getaddrinfo",
        "create_connection",
    }
)
IO_NAMES = frozenset(
    {
        "open",
        "io.open",
        "os.read",
        "os.write",
        "os.system",
        "os.popen",
        "os.fsync",
        "shutil.copy",
        "shutil.copyfile",
        "shutil.copytree",
        "socket.create_connection",
        "socket.getaddrinfo",
        "urllib.request.urlopen",
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        "subprocess.Popen",
    }
)
IO_MODULES = ("requests.", "httpx.", "urllib3.", "aiohttp.", "boto3.", "botocore.", "redis.", "paramiko.", "ftplib.")
THREAD_METHODS = frozenset({"join", "result", "as_completed"})

# library files (path fragments) whose functions, called from a project line, say the kind of wait
LIBRARY_KINDS: Tuple[Tuple[str, str], ...] = (
    ("/django/db/", "query"),
    ("/sqlalchemy/", "query"),
    ("/psycopg2/", "query"),
    ("/psycopg/", "query"),
    ("/pymysql/", "query"),
    ("/MySQLdb/", "query"),
    ("/sqlite3/", "query"),
    ("/peewee.py", "query"),
    ("/pony/orm/", "query"),
    ("/concurrent/futures/", "thread"),
    ("/threading.py", "lock"),
    ("/queue.py", "lock"),
    ("/multiprocessing/synchronize.py", "lock"),
    ("/multiprocessing/queues.py", "lock"),
    ("/requests/", "io"),
    ("/urllib3/", "io"),
    ("/httpx/", "io"),
    ("/httpcore/", "io"),
    ("/http/client.py", "io"),
    ("/urllib/request.py", "io"),
    ("/socket.py", "io"),
    ("/ssl.py", "io"),
    ("/subprocess.py", "io"),
    ("/smtplib.py", "io"),
    ("/ftplib.py", "io"),
    ("/botocore/", "io"),
    ("/redis/", "io"),
    ("/shutil.py", "io"),
)
# calls in threading.py that are a thread's end, not a lock
_THREAD_ENDS = frozenset({"join", "_wait_for_tstate_lock"})


@dataclass(frozen=True)
class SiteCall:
    """The call a project line waits in."""

    node: Optional[ast.AST]  # the ast.Call, or the `with` item's expression; None when the line holds neither
    text: str  # as written: "sock.recv", "time.sleep", "with LOCK"
    name: str  # the real dotted name where imports tell it ("time.sleep", "requests.get"), else the text
    kind: Optional[str]  # sleep | lock | query | io | thread, or None


def _nodes_on(fn: ast.AST, line: int) -> Iterator[ast.AST]:
    """Calls and `with` items whose expression starts on `line`, in the function's own code."""
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Call) and node.lineno == line:
            yield node
        elif isinstance(node, (ast.With, ast.AsyncWith)) and node.lineno == line:
            for item in node.items:
                if not isinstance(item.context_expr, ast.Call):
                    yield item.context_expr


def call_at(fn: ast.AST, line: int, aliases: Dict[str, str], via: Sequence[Tuple[str, str]] = ()) -> Optional[SiteCall]:
    """The call a function waits in at `line`; `via` the library functions called from there, most time first."""
    # the innermost calls first: in `cur.execute(q).fetchone()` the statement is `execute`
    nodes = sorted(_nodes_on(fn, line), key=lambda n: (_chained(n), getattr(n, "col_offset", 0)))
    if not nodes:
        return None
    library = via[0] if via else None
    chosen: Optional[ast.AST] = None
    if library is not None:
        chosen = next((n for n in nodes if _last_name(n) == library[1]), None)
        known = [n for n in nodes if _kind(n, aliases, None) is not None]
        if chosen is None and not known and _library_kind(library) is not None:
            # no call on the line is one that waits (an ORM's attribute access, a property ran
            # the query): name the library's function, which says what waited
            text = _library_text(library)
            return SiteCall(None, text, text, _library_kind(library))
    if chosen is None:
        known = [n for n in nodes if _kind(n, aliases, None) is not None]
        chosen = known[0] if known else nodes[0]
    return _describe(chosen, aliases, library)


def _describe(node: ast.AST, aliases: Dict[str, str], library: Optional[Tuple[str, str]]) -> SiteCall:
    if isinstance(node, ast.Call):
        text = _short(ast.unparse(_elide_calls(node.func)))
        name = resolve(node.func, aliases) or text
    else:
        text = "with " + _short(ast.unparse(node))
        name = text
    return SiteCall(node, text, name, _kind(node, aliases, library))


def _library_kind(library: Tuple[str, str]) -> Optional[str]:
    path = library[0].replace("\\", "/")
    for fragment, kind in LIBRARY_KINDS:
        if fragment in path:
            if kind == "lock" and path.endswith("threading.py") and library[1] in _THREAD_ENDS:
                return "thread"
            return kind
    return None


def _library_text(library: Tuple[str, str]) -> str:
    """`django.db.models.fields.related_descriptors.__get__` for a library frame."""
    path = library[0].replace("\\", "/")
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        path = path.rsplit("/", 1)[-1]
    module = path[:-3] if path.endswith(".py") else path
    module = module[: -len("/__init__")] if module.endswith("/__init__") else module
    return _short(module.replace("/", ".") + "." + library[1])


def _kind(node: ast.AST, aliases: Dict[str, str], library: Optional[Tuple[str, str]]) -> Optional[str]:
    if library is not None:
        kind = _library_kind(library)
        if kind is not None:
            return kind
    if not isinstance(node, ast.Call):
        # `with lock:` waits in a C `__enter__` (a threading lock) or a library one (threading.py)
        return "lock" if library is None or library[0].replace("\\", "/").endswith("threading.py") else None
    name = resolve(node.func, aliases) or ""
    attr = node.func.attr if isinstance(node.func, ast.Attribute) else ""
    if name in SLEEPS:
        return "sleep"
    if name in IO_NAMES or name.startswith(IO_MODULES):
        return "io"
    if attr in QUERY_METHODS:
        return "query"
    if attr in LOCK_METHODS:
        return "lock"
    if attr in QUEUE_METHODS and _looks_like_queue(node.func):
        return "lock"
    if attr in THREAD_METHODS:
        return "thread"
    if attr in IO_METHODS:
        return "io"
    return None


def _chained(node: ast.AST) -> bool:
    """A call made on another call's result (`cur.execute(q).fetchone()`)."""
    func = node.func if isinstance(node, ast.Call) else None
    return func is not None and any(isinstance(n, ast.Call) for n in ast.walk(func))


def _elide_calls(func: ast.AST) -> ast.AST:
    """`db.execute(...).fetchone` for `db.execute(q, args).fetchone`: the callee, not its arguments."""
    if not any(isinstance(n, ast.Call) for n in ast.walk(func)):
        return func

    class Elide(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.AST:
            self.generic_visit(node)
            return ast.Call(node.func, [ast.Name("...", ast.Load())] if node.args or node.keywords else [], [])

    elided: ast.AST = Elide().visit(copy.deepcopy(func))
    return elided


def _looks_like_queue(func: ast.AST) -> bool:
    receiver = func.value if isinstance(func, ast.Attribute) else None
    text = ast.unparse(receiver).lower() if receiver is not None else ""
    return "queue" in text or text in ("q", "self.q") or text.endswith("_q")


def last_name(node: Optional[ast.AST]) -> str:
    """The callee's last name (`recv` for `sock.recv(...)`); `__enter__` for a `with` item."""
    if node is None:
        return ""
    if not isinstance(node, ast.Call):
        return "__enter__"
    return _last_name(node)


def _last_name(node: ast.AST) -> str:
    func = node.func if isinstance(node, ast.Call) else node
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def call_text(node: Optional[ast.AST], limit: int = 60) -> str:
    """A call as written, arguments included, for evidence (`time.sleep(0.02)`)."""
    if node is None:
        return ""
    return _short(ast.unparse(node), limit)
