"""The test suite's own rules (CONTRIBUTING.md "Tests"): no test depends on where the checkout is,
and no assertion waits behind an `if` that a run may never enter."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import List, Tuple

from conftest import REPO

TESTS = sorted((REPO / "tests").glob("*.py"))
# an absolute path into a machine's folders: a test must find the corpus from its own file (conftest.CORPUS)
MACHINE_PATH = re.compile(r"""["'](/work/|/home/|/Users/|/root/|/tmp/[^"'{])""")

# `if` branches that assert an invariant of an optional part (present -> well formed) over
# malformed inputs chosen so that both sides occur: (file, test)
OPTIONAL_PART_CHECKS = {
    ("test_cpu_records.py", "test_malformed_cpu_json_reads_without_raising_and_profiles_empty"),
    ("test_cpu_records.py", "test_a_malformed_section_reads_as_empty_parts"),
}


def test_no_test_names_a_path_of_this_machine():
    found = [
        f"{path.name}:{n}: {line.strip()}"
        for path in TESTS
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if MACHINE_PATH.search(line) or str(REPO) in line
    ]
    assert not found, found


def asserts_behind_an_if(path: Path) -> List[Tuple[str, int]]:
    """(test, line) of every `if` in a test whose body asserts and whose else does not."""
    out = []
    for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(fn, ast.FunctionDef) or not fn.name.startswith("test_"):
            continue
        for node in ast.walk(fn):
            if not isinstance(node, ast.If):
                continue
            in_body = any(isinstance(n, ast.Assert) for b in node.body for n in ast.walk(b))
            in_else = any(isinstance(n, ast.Assert) for b in node.orelse for n in ast.walk(b))
            if in_body and not in_else:
                out.append((fn.name, node.lineno))
    return out


def test_no_assertion_is_hidden_in_an_if_branch():
    found = [
        f"{path.name}:{line} {test}"
        for path in TESTS
        for test, line in asserts_behind_an_if(path)
        if (path.name, test) not in OPTIONAL_PART_CHECKS
    ]
    assert not found, "assert what the test expects, unconditionally: " + ", ".join(found)


def test_the_hidden_assertion_check_finds_one(tmp_path):
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        "def test_a(x):\n    if x:\n        assert x\n\n"
        "def test_b(x):\n    if x:\n        assert x\n    else:\n        assert not x\n",
        encoding="utf-8",
    )
    assert asserts_behind_an_if(sample) == [("test_a", 2)]
