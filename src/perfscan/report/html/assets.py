"""The page's stylesheet and script, shipped as package data files (`assets/`) and inlined into every page."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def asset(name: str) -> str:
    """The text of `assets/<name>` (page.css, page.js)."""
    return files(__package__).joinpath("assets").joinpath(name).read_text(encoding="utf-8")
