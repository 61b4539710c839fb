"""A loaded unittest suite as the probe sees it: its tests in run order, their ids, and the
modules that could not be imported (unittest's _FailedTest), which are collection errors."""

import os
import sys
import traceback
import unittest


def one_line(err):
    """`Type: message`, the message's first line (an assertion's diff follows on the next lines)."""
    try:
        lines = traceback.format_exception_only(err[0], err[1])
        text = lines[-1] if lines else ""
    except Exception:
        text = "%s: %s" % (getattr(err[0], "__name__", "?"), err[1])
    first = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (first[0] if first else "")[:300]


def flatten(suite):
    """(test cases in run order, collection errors): nested suites opened; a module that could not
    be imported (unittest's _FailedTest) is an error, not a test."""
    tests, errors = [], []
    failed = getattr(unittest.loader, "_FailedTest", ())
    stack = [iter([suite])]
    while stack:
        try:
            test = next(stack[-1])
        except StopIteration:
            stack.pop()
            continue
        if isinstance(test, unittest.TestSuite):
            stack.append(iter(test))
        elif failed and isinstance(test, failed):
            # its exception's message holds the whole import traceback: its last line says why
            exc = getattr(test, "_exception", None)
            lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
            why = lines[-1] if lines else type(exc).__name__
            errors.append("%s: %s" % (getattr(test, "_testMethodName", "?"), why[:300]))
        else:
            tests.append(test)
    return tests, errors


def node_id(test, root):
    """`file::Class::method` (pytest's id of the same test); a doctest `file::name` (pytest's
    doctest id); a FunctionTestCase `file::function`. A file outside the project is named by its
    module. Every id holds `::`, which is how the driver tells a chosen id from unittest's names."""
    doc = getattr(test, "_dt_test", None)  # doctest's DocTestCase
    if doc is not None:
        return "%s::%s" % (_where(getattr(doc, "filename", None), root) or doc.name, doc.name)
    func = getattr(test, "_testFunc", None)  # unittest.FunctionTestCase
    if func is not None:
        module = getattr(func, "__module__", "?")
        return "%s::%s" % (_module_where(module, root), getattr(func, "__qualname__", repr(func)))
    cls = type(test)
    return "%s::%s::%s" % (_module_where(cls.__module__, root), cls.__qualname__, getattr(test, "_testMethodName", "?"))


def _module_where(module, root):
    return _where(getattr(sys.modules.get(module), "__file__", None), root) or module


def _where(path, root):
    """The file relative to the project root (posix), or None when it is not under it."""
    if not path:
        return None
    rel = os.path.relpath(os.path.abspath(path), root)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        return None
    return rel.replace(os.sep, "/")
