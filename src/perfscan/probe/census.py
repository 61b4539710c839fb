"""The size of a value and all it holds, and the census of the project's module-level values.

The memory recorder (memory.py) takes the census at the start of the test loop (values made at
import or collection time) and after each repetition of `--opt repeat=N`, and builds the growth
records from those censuses.
"""

import gc
import io
import sys
import types
from typing import Any, Dict, List

GROWTH_FLOOR = 64 * 1024
CENSUS_NODE_CAP = 500000  # per value: bounds a walk of a huge structure
CENSUS_TOTAL_CAP = 3000000

_SKIP_TYPES = (
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.CodeType,
    types.FrameType,
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
    type,
    property,
    staticmethod,
    classmethod,
    types.MappingProxyType,
)
_LEAF_TYPES = frozenset({int, float, complex, str, bytes, bool, type(None), range, bytearray})


def deep_size(obj, cap=CENSUS_NODE_CAP):
    """Bytes of obj and of everything it holds (not modules, functions, classes, frames).

    Returns (bytes, nodes, truncated)."""
    seen = set()
    stack = [obj]
    total = 0
    nodes = 0
    getsizeof = sys.getsizeof
    get_referents = gc.get_referents
    leaf = _LEAF_TYPES
    while stack:
        o = stack.pop()
        i = id(o)
        if i in seen:
            continue
        seen.add(i)
        if nodes and isinstance(o, _SKIP_TYPES):
            continue
        try:
            total += getsizeof(o, 0)
        except Exception:
            pass
        nodes += 1
        if nodes >= cap:
            return total, nodes, True
        if type(o) in leaf:
            continue
        try:
            refs = get_referents(o)
        except Exception:
            continue
        if isinstance(o, dict):
            # a dict with only str keys does not report them to the GC: count them explicitly
            stack.extend(o.keys())
        elif isinstance(o, io.BytesIO):
            # its __sizeof__ already counts its buffer, which some versions also report as a referent
            refs = [r for r in refs if type(r) is not bytes]
        stack.extend(refs)
    return total, nodes, False


def _measurable(value):
    return not isinstance(value, _SKIP_TYPES) or _is_lru_cache(value)


def _is_lru_cache(value):
    return type(value).__name__ == "_lru_cache_wrapper"


def census(classifier):
    """Every module-level value of the project's modules, with the bytes it holds."""
    out: List[Dict[str, Any]] = []
    budget = CENSUS_TOTAL_CAP
    for modname, mod in sorted(list(sys.modules.items()), key=lambda kv: kv[0]):
        filename = getattr(mod, "__file__", None)
        if not filename or classifier.kind(filename) != "p":
            continue
        rel = classifier.rel(filename)
        try:
            namespace = list(vars(mod).items())
        except TypeError:
            continue
        for name, value in namespace:
            if name.startswith("__"):
                continue
            targets = []
            if isinstance(value, type) and getattr(value, "__module__", None) == modname:
                for attr, held in list(vars(value).items()):
                    if not attr.startswith("__") and _measurable(held):
                        targets.append(("%s.%s" % (name, attr), held))
            elif _measurable(value):
                targets.append((name, value))
            for label, held in targets:
                if budget <= 0:
                    return out
                size, nodes, trunc = deep_size(held, min(CENSUS_NODE_CAP, budget))
                budget -= nodes
                out.append(
                    {
                        "module": modname,
                        "name": label,
                        "file": rel,
                        "bytes": size,
                        "truncated": trunc,
                        "type": type(held).__name__,
                    }
                )
    return out


def growth_records(sizes, info, truncated):
    """The values that grew by GROWTH_FLOOR or more over the repetitions, most growth first (50 at most)."""
    out = []
    for key, series in sizes.items():
        if len(series) >= 2 and series[-1] - series[0] >= GROWTH_FLOOR:
            v = info[key]
            out.append(
                {
                    "module": v["module"],
                    "name": v["name"],
                    "file": v["file"],
                    "type": v["type"],
                    "sizes": series,
                    "truncated": truncated[key],
                }
            )
    out.sort(key=lambda r: r["sizes"][-1] - r["sizes"][0], reverse=True)
    return out[:50]
