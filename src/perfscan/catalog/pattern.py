"""One catalog row: a pattern id a finding can carry, with the words and doc shown to users."""

from __future__ import annotations

from dataclasses import dataclass

SECTIONS = ("What it does", "Why is this bad?", "Example")


@dataclass(frozen=True)
class Pattern:
    id: str  # what findings carry in `pattern` (and SARIF in `ruleId`)
    domain: str  # cpu | memory | import | async
    title: str  # the report's words for it, e.g. "nested loop"
    doc: str  # Markdown: "## What it does", "## Why is this bad?", "## Example"

    def section(self, heading: str) -> str:
        """The text under `## heading` in the doc, without the heading ("" when absent)."""
        marker = f"## {heading}\n"
        start = self.doc.find(marker)
        if start < 0:
            return ""
        body = self.doc[start + len(marker) :]
        end = body.find("\n## ")
        return (body if end < 0 else body[:end]).strip()
