"""The one import rule the CPU patterns and the async pass share (perfscan.astutil)."""

from __future__ import annotations

import ast
import textwrap

from perfscan.astutil import absolute_module, dotted, dotted_loose, import_bindings, package_of
from perfscan.passes.async_pass.aliases import Aliases
from perfscan.passes.cpu.patterns.astkit import module_aliases, resolve

SOURCE = textwrap.dedent("""
    import copy as c
    import os.path
    from json import dumps
    from .util import helper
    from . import sibling
    from ..core import engine as eng
    from .missing import *

    def f():
        import re
        return re
""")
TREE = ast.parse(SOURCE)


def _call(expr: str) -> ast.AST:
    return ast.parse(expr, mode="eval").body


def test_relative_imports_resolve_against_the_package():
    # pkg/sub/mod.py: package pkg.sub
    found = import_bindings(TREE, "pkg.sub").unique()
    assert found["helper"] == "pkg.sub.util.helper"
    assert found["sibling"] == "pkg.sub.sibling"
    assert found["eng"] == "pkg.core.engine"
    assert found["c"] == "copy" and found["os"] == "os" and found["dumps"] == "json.dumps"
    assert found["re"] == "re"  # a function-level import counts
    assert "*" not in found


def test_a_package_init_is_its_own_package():
    assert package_of("pkg.sub", is_package=True) == "pkg.sub"
    assert package_of("pkg.sub.mod", is_package=False) == "pkg.sub"
    assert package_of("mod", is_package=False) == ""


def test_relative_import_with_unknown_package_binds_nothing():
    found = import_bindings(TREE, None).unique()
    assert "helper" not in found and "sibling" not in found and "eng" not in found
    assert found["dumps"] == "json.dumps"


def test_climbing_too_far_is_unknown():
    assert absolute_module("x", 3, "pkg") is None
    assert absolute_module("x", 2, "pkg") == "x"  # the scanned folder may itself be a package
    assert absolute_module("x", 0, "pkg") == "x"


def test_cpu_patterns_see_relative_imports():
    # `from .compat import json` shadows the standard library: `json.dumps` is not json.dumps
    tree = ast.parse("from .compat import json\nfrom .util import deepcopy\n")
    aliases = module_aliases(tree, "pkg")
    assert resolve(_call("json.dumps(x)").func, aliases) == "pkg.compat.json.dumps"
    assert resolve(_call("deepcopy(x)").func, aliases) == "pkg.util.deepcopy"


def test_async_pass_sees_relative_imports():
    aliases = Aliases.from_tree(TREE, "pkg.sub.mod", "pkg.sub")
    assert aliases.resolve(_call("helper()").func) == "pkg.sub.util.helper"
    assert aliases.resolve(_call("eng.run()").func) == "pkg.core.engine.run"


def test_a_name_imported_two_ways():
    tree = ast.parse("try:\n    import ujson as json\nexcept ImportError:\n    import json\n")
    # the async pass makes static claims: ambiguous resolves to nothing
    assert Aliases.from_tree(tree, "m", "").resolve(_call("json.dumps(x)").func) is None
    # the CPU patterns name a measured cost's likely cause: the last import
    assert module_aliases(tree)["json"] == "json"


def test_dotted_chains():
    assert dotted(_call("a.b.c")) == "a.b.c"
    assert dotted(_call("f().x")) is None
    assert dotted_loose(_call("a.b().c")) == "a.b.c"
    assert dotted_loose(_call("x[0].y")) == "y"
    assert dotted_loose(_call("1")) == ""
