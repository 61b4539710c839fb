"""Text that can be written: names from the project (file names, test ids) may hold undecodable bytes.

Python hands such bytes over as lone surrogates (U+DC80-U+DCFF, "surrogateescape"), which UTF-8
cannot encode: writing one raises, and JSON's `\\udce9` escape is rejected by strict parsers. Every
file perfscan writes goes through here, so a name reads `caf\\xe9` instead of breaking the report.
"""

from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, shown the way Python shows bytes
        return f"\\x{code - 0xDC00:02x}"
    return "\ufffd"


def clean_text(text: str) -> str:
    """`text` with every lone surrogate replaced by a visible escape; unchanged (and fast) otherwise."""
    return _SURROGATE.sub(_escape, text) if _SURROGATE.search(text) else text


def clean_data(data: Any) -> Any:
    """`clean_text` applied to every string (keys too) of a JSON-like tree."""
    if isinstance(data, str):
        return clean_text(data)
    if isinstance(data, dict):
        return {clean_data(k): clean_data(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [clean_data(v) for v in data]
    return data
