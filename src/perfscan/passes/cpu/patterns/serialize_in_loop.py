"""serialize-in-loop: json, pickle, yaml or marshal dumps/loads inside a loop.

What it finds, why it costs, and an example: its catalog row
(perfscan/catalog/cpu.py; `perfscan explain serialize-in-loop`).

Backing: the time of the serializer calls from this function, at the call's line.
"""

from __future__ import annotations

import ast
from typing import Optional

from perfscan.passes.cpu.patterns.astkit import resolve, walk_with_loops
from perfscan.passes.cpu.patterns.base import FunctionFacts, Match, builtin, either, python_function

ID = "serialize-in-loop"
MODULES = ("json", "pickle", "cPickle", "_pickle", "yaml", "marshal", "simplejson", "orjson", "ujson")
FUNCS = ("dumps", "loads", "dump", "load", "safe_load", "safe_dump")
TIMED = either(
    python_function(
        ("/json/__init__.py", "/json/encoder.py", "/json/decoder.py", "/yaml/__init__.py", "/simplejson/__init__.py"),
        FUNCS + ("encode", "decode", "iterencode"),
    ),
    builtin(
        "_pickle.dumps",
        "_pickle.loads",
        "_pickle.dump",
        "_pickle.load",
        "marshal.dumps",
        "marshal.loads",
        "marshal.dump",
        "marshal.load",
        "orjson.dumps",
        "orjson.loads",
        "ujson.dumps",
        "ujson.loads",
    ),
)


def match(facts: FunctionFacts) -> Optional[Match]:
    for site in walk_with_loops(facts.node):
        node = site.node
        if not site.in_loop or not isinstance(node, ast.Call):
            continue
        name = resolve(node.func, facts.aliases) or ""
        mod, _, fn = name.rpartition(".")
        if mod.split(".")[0] in MODULES and fn in FUNCS:
            return Match(
                ID,
                node.lineno,
                f"{name} called in a loop (line {node.lineno}): serialize the collection once",
                facts.call(node, facts.callee_seconds(TIMED)),
            )
    return None
