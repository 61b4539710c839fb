"""The AST edits the compiled counters make (calls.py, loops.py): a counter statement, and
positions copied from the code it stands in front of so line numbers stay as written."""

import ast


def item(name, index, ctx):
    """`name[index]`"""
    return ast.Subscript(ast.Name(name, ast.Load()), ast.Constant(index), ctx)


def increment(name, index, by):
    """`name[index] += by` (or `-=`)"""
    return ast.AugAssign(item(name, index, ast.Store()), ast.Add() if by > 0 else ast.Sub(), ast.Constant(abs(by)))


def locate(stmt, anchor):
    """Give every node of `stmt` the anchor's position."""
    for node in ast.walk(stmt):
        # `_attributes` says the node has positions, which the AST types cannot narrow on
        if "lineno" in node._attributes:
            for name in ("lineno", "end_lineno"):
                setattr(node, name, anchor.lineno)
            for name in ("col_offset", "end_col_offset"):
                setattr(node, name, anchor.col_offset)
