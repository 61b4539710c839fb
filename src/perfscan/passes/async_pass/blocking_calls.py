"""Which calls block the event loop: data, not code (docs/design.md "The passes" -> Async).

Names are the real dotted names after import resolution (`builtins.open`, not `open`).
An entry `pkg.Class.method` means that method on instances of `pkg.Class`; an instance is
known when a local name or expression comes from the class itself, from a factory below
(`sqlite3.connect` gives a `sqlite3.Connection`), or from a parameter annotated with it.
Users add names with `blocking-calls = ["mylib.fetch", "redis.Redis.get"]` in
`[tool.perfscan]`; a user entry whose last-but-one part is capitalized adds that class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import FrozenSet, Mapping, Sequence, Tuple

_HTTP_VERBS = ("get", "post", "put", "patch", "delete", "head", "options", "request")

BLOCKING_CALLS: Tuple[str, ...] = (
    # sleeping
    "time.sleep",
    # files
    "builtins.open",
    "io.open",
    "os.fdopen",
    "pathlib.Path.open",
    "pathlib.Path.read_text",
    "pathlib.Path.write_text",
    "pathlib.Path.read_bytes",
    "pathlib.Path.write_bytes",
    "shutil.copy",
    "shutil.copy2",
    "shutil.copyfile",
    "shutil.copytree",
    "shutil.rmtree",
    "shutil.move",
    # processes
    "subprocess.run",
    "subprocess.call",
    "subprocess.check_call",
    "subprocess.check_output",
    "subprocess.Popen",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
    "os.system",
    "os.popen",
    "os.wait",
    "os.waitpid",
    # HTTP
    *("requests." + v for v in _HTTP_VERBS),
    *("requests.Session." + v for v in _HTTP_VERBS + ("send",)),
    *("httpx." + v for v in _HTTP_VERBS + ("stream",)),
    *("httpx.Client." + v for v in _HTTP_VERBS + ("send", "stream")),
    "urllib.request.urlopen",
    "urllib.request.urlretrieve",
    "urllib3.request",
    "urllib3.PoolManager.request",
    # sockets
    "socket.create_connection",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyaddr",
    *(
        "socket.socket." + m
        for m in ("connect", "accept", "recv", "recvfrom", "recv_into", "send", "sendall", "sendto")
    ),
    # sync database drivers
    "sqlite3.connect",
    *("sqlite3.Connection." + m for m in ("execute", "executemany", "executescript", "commit", "rollback")),
    *("sqlite3.Cursor." + m for m in ("execute", "executemany", "executescript", "fetchone", "fetchmany", "fetchall")),
    "psycopg2.connect",
    "psycopg.connect",
    "pymysql.connect",
    "MySQLdb.connect",
    "mysql.connector.connect",
    "pymongo.MongoClient",
    # console
    "builtins.input",
)

# Classes whose instances have blocking methods above.
CLASSES: Tuple[str, ...] = (
    "pathlib.Path",
    "requests.Session",
    "httpx.Client",
    "urllib3.PoolManager",
    "socket.socket",
    "sqlite3.Connection",
    "sqlite3.Cursor",
)

# Other spellings of those classes.
CLASS_ALIASES: Mapping[str, str] = {
    "pathlib.PosixPath": "pathlib.Path",
    "pathlib.WindowsPath": "pathlib.Path",
    "requests.sessions.Session": "requests.Session",
}

# Calls that return an instance of a class above (besides calling the class itself).
FACTORIES: Mapping[str, str] = {
    "requests.session": "requests.Session",
    "sqlite3.connect": "sqlite3.Connection",
    "sqlite3.Connection.cursor": "sqlite3.Cursor",
    "socket.create_connection": "socket.socket",
    "socket.socket.accept": "socket.socket",
    "pathlib.Path.cwd": "pathlib.Path",
    "pathlib.Path.home": "pathlib.Path",
    "pathlib.Path.joinpath": "pathlib.Path",
    "pathlib.Path.with_name": "pathlib.Path",
    "pathlib.Path.with_suffix": "pathlib.Path",
    "pathlib.Path.with_stem": "pathlib.Path",
    "pathlib.Path.resolve": "pathlib.Path",
    "pathlib.Path.absolute": "pathlib.Path",
    "pathlib.Path.expanduser": "pathlib.Path",
}

# Attributes of an instance that are instances again (`p.parent`).
ATTRIBUTES: Mapping[str, str] = {"pathlib.Path.parent": "pathlib.Path"}

# What to do instead, by name prefix; the first match wins.
ADVICE: Tuple[Tuple[str, str], ...] = (
    ("time.sleep", "use await asyncio.sleep"),
    ("subprocess.", "use asyncio.create_subprocess_exec"),
    ("os.system", "use asyncio.create_subprocess_shell"),
    ("os.popen", "use asyncio.create_subprocess_shell"),
    ("requests.", "use an async client (httpx.AsyncClient, aiohttp) or asyncio.to_thread"),
    ("httpx.", "use httpx.AsyncClient"),
    ("urllib", "use an async client (httpx.AsyncClient, aiohttp) or asyncio.to_thread"),
    ("sqlite3.", "use aiosqlite or asyncio.to_thread"),
    ("builtins.open", "use asyncio.to_thread (or aiofiles)"),
    ("io.open", "use asyncio.to_thread (or aiofiles)"),
    ("pathlib.", "use asyncio.to_thread (or aiofiles)"),
)
DEFAULT_ADVICE = "run it with asyncio.to_thread or loop.run_in_executor"


@dataclass(frozen=True)
class BlockingCatalog:
    calls: FrozenSet[str]
    classes: FrozenSet[str]
    class_aliases: Mapping[str, str]
    factories: Mapping[str, str]
    attributes: Mapping[str, str]

    def canonical_class(self, name: str) -> str:
        return self.class_aliases.get(name, name)


def blocking_catalog(extra: Sequence[str] = ()) -> BlockingCatalog:
    """The built-in list plus the user's `blocking-calls` entries."""
    calls = set(BLOCKING_CALLS)
    classes = set(CLASSES)
    for raw in extra:
        name = str(raw).strip()
        if not name:
            continue
        if "." not in name:
            name = "builtins." + name  # a bare name can only mean a builtin across modules
        calls.add(name)
        owner = name.rpartition(".")[0]
        if owner and owner.rpartition(".")[2][:1].isupper():
            classes.add(owner)
    return BlockingCatalog(frozenset(calls), frozenset(classes), dict(CLASS_ALIASES), dict(FACTORIES), dict(ATTRIBUTES))


def display_name(name: str) -> str:
    """How a user would write the call: `open`, `time.sleep`, `Path.read_text`."""
    if name.startswith("builtins."):
        return name[len("builtins.") :]
    parts = name.split(".")
    for i, part in enumerate(parts[:-1]):
        if part[:1].isupper():
            return ".".join(parts[i:])
    return name


def advice(name: str) -> str:
    for prefix, text in ADVICE:
        if name.startswith(prefix):
            return text
    return DEFAULT_ADVICE
