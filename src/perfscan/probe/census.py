"""The size of a value and all it holds, and the census of the project's module-level values.

The memory recorder (memory.py) takes the census at the start of the test loop (values made at
import or collection time) and after each repetition of `--opt repeat=N`, and builds the growth
records from those censuses.

A value too big to walk whole (CENSUS_NODE_CAP nodes) is estimated from a sample of its entries
(SAMPLE_ENTRIES evenly spaced, each walked, scaled by the entry count), so a container that keeps
growing past the cap is still seen growing; its entry count is recorded too, exact at any size.
"""

import gc
import io
import itertools
import sys
import types
from collections import deque
from typing import Any, Dict, List

GROWTH_FLOOR = 64 * 1024
CENSUS_NODE_CAP = 500000  # per value: bounds a walk of a huge structure
CENSUS_TOTAL_CAP = 3000000
SAMPLE_ENTRIES = 64  # entries walked to estimate a container too big to walk whole
_CONTAINERS = (dict, list, tuple, set, frozenset, deque)

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


def entries(value):
    """How many entries a value holds: a container's length, an lru_cache's current size, an
    object's container attributes summed; None for anything else. Cheap at any size."""
    try:
        if isinstance(value, _CONTAINERS):
            return len(value)
        if _is_lru_cache(value):
            return value.cache_info().currsize
        attrs = getattr(value, "__dict__", None)
        if isinstance(attrs, dict) and not isinstance(value, _SKIP_TYPES):
            sized = [len(v) for v in list(attrs.values()) if isinstance(v, _CONTAINERS)]
            return sum(sized) if sized else None
    except Exception:
        pass
    return None


def _sample(container, k):
    """About k entries of a container, evenly spaced (a dict's are (key, value) pairs)."""
    n = len(container)
    step = max(1, n // k)
    items = container.items() if isinstance(container, dict) else container
    return list(itertools.islice(items, 0, None, step))[:k]


def sampled_size(obj, cap=CENSUS_NODE_CAP, depth=0):
    """An estimate of deep_size(obj) for a value too big to walk: its own size plus its entry
    count times the mean size of a sample of entries (an entry too big to walk is estimated the
    same way, two levels down at most; an object's attributes are each estimated).
    Returns (bytes, nodes walked), or None when obj is neither a container nor an object."""
    try:
        if isinstance(obj, _CONTAINERS) and len(obj):
            sample = _sample(obj, SAMPLE_ENTRIES)
            per_cap = max(1000, cap // max(1, len(sample)))
            total = nodes = 0
            for entry in sample:
                size, walked, trunc = deep_size(entry, per_cap)
                if trunc and depth < 2:
                    est = sampled_size(entry, per_cap, depth + 1)
                    if est is not None:
                        size = max(size, est[0])
                        walked += est[1]
                total += size
                nodes += walked
            return sys.getsizeof(obj, 0) + total * len(obj) // len(sample), nodes
        attrs = getattr(obj, "__dict__", None)
        if depth == 0 and isinstance(attrs, dict) and not isinstance(obj, _SKIP_TYPES):
            total = sys.getsizeof(obj, 0) + sys.getsizeof(attrs, 0)
            nodes = 0
            values = list(attrs.values())
            per_cap = max(1000, cap // max(1, len(values)))
            for value in values:
                size, walked, trunc = deep_size(value, per_cap)
                if trunc:
                    est = sampled_size(value, per_cap, depth + 1)
                    if est is not None:
                        size = max(size, est[0])
                        walked += est[1]
                total += size
                nodes += walked
            return total, nodes
    except Exception:
        pass
    return None


def value_size(obj, cap=CENSUS_NODE_CAP):
    """deep_size(obj), or past the cap a sampled estimate. Returns (bytes, nodes, truncated, estimated):
    truncated, the bytes are a lower bound; estimated, they are extrapolated from a sample."""
    size, nodes, trunc = deep_size(obj, cap)
    if not trunc:
        return size, nodes, False, False
    est = sampled_size(obj, cap)
    if est is None:
        return size, nodes, True, False
    return max(size, est[0]), nodes + est[1], False, True


def _measurable(value):
    return not isinstance(value, _SKIP_TYPES) or _is_lru_cache(value)


def _is_lru_cache(value):
    return type(value).__name__ == "_lru_cache_wrapper"


def census(classifier):
    """Every module-level value of the project's modules, with the bytes it holds."""
    out: List[Dict[str, Any]] = []
    budget = CENSUS_TOTAL_CAP
    for modname, rel, label, held in _module_values(classifier):
        if not _measurable(held):
            continue
        if budget <= 0:
            return out
        size, nodes, trunc, estimated = value_size(held, min(CENSUS_NODE_CAP, budget))
        budget -= nodes
        out.append(
            {
                "module": modname,
                "name": label,
                "file": rel,
                "bytes": size,
                "truncated": trunc,
                "estimated": estimated,
                "entries": entries(held),
                "type": type(held).__name__,
            }
        )
    return out


def _module_values(classifier):
    """(module, file, name, value) of each value at the top of the project's modules, and of each
    attribute of a class a module defines (`Class.attr`), dunders left out; modules by name."""
    for modname, mod in sorted(list(sys.modules.items()), key=lambda kv: kv[0]):
        filename = getattr(mod, "__file__", None)
        if not filename or classifier.kind(filename) != "p":
            continue
        try:
            namespace = list(vars(mod).items())
        except TypeError:
            continue
        rel = classifier.rel(filename)
        for name, value in namespace:
            if name.startswith("__"):
                continue
            if isinstance(value, type) and getattr(value, "__module__", None) == modname:
                for attr, held in list(vars(value).items()):
                    if not attr.startswith("__"):
                        yield modname, rel, "%s.%s" % (name, attr), held
            else:
                yield modname, rel, name, value


def watch_list(classifier):
    """The project's module-level containers (and class attributes, an object's containers, a
    small dict's container values), whose entry counts tell which tests add to module-level state."""
    out = []
    for _module, _rel, _label, v in _module_values(classifier):
        if isinstance(v, _SKIP_TYPES) and not _is_lru_cache(v):
            continue
        if entries(v) is None:
            continue
        out.append(v)
        if isinstance(v, dict) and len(v) <= 64:
            out += [inner for inner in list(v.values()) if isinstance(inner, _CONTAINERS)]
    return out


def _rising(series):
    return len(series) >= 2 and all(b > a for a, b in zip(series, series[1:]))


def growth_records(sizes, info, truncated, counts=None):
    """The values that grew by GROWTH_FLOOR or more over the repetitions, or grew in bytes or in
    entries at every repetition whatever the amount; most growth first (50 at most)."""
    counts = counts or {}
    out = []
    for key, series in sizes.items():
        if len(series) < 2:
            continue
        entry_series = [n for n in counts.get(key, []) if n is not None]
        if len(entry_series) != len(series):
            entry_series = []
        if series[-1] - series[0] >= GROWTH_FLOOR or _rising(series) or _rising(entry_series):
            v = info[key]
            out.append(
                {
                    "module": v["module"],
                    "name": v["name"],
                    "file": v["file"],
                    "type": v["type"],
                    "sizes": series,
                    "entries": entry_series,
                    "truncated": truncated[key],
                    "estimated": bool(v.get("estimated")),
                }
            )
    out.sort(key=lambda r: r["sizes"][-1] - r["sizes"][0], reverse=True)
    return out[:50]
