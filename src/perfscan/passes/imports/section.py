"""The import pass's section of the reports, typed: what the Markdown table and the HTML waterfall read.

`to_json()` gives the report's JSON keys (`runs`, `modules`, `roots`, `python`, `waterfall`);
`from_json()` reads them back from a saved `scan-report.json`, a missing key taking its default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple, Type, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_Row = TypeVar("_Row", bound="DataclassInstance")


def _field(default: Any, value: Any) -> Any:
    """A JSON value as the field's type (its default's), the default when it cannot be."""
    if isinstance(default, str):
        return default if value is None else str(value)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _row(cls: Type[_Row], data: Mapping[str, Any]) -> _Row:
    """A row dataclass from a JSON object; keys it does not know are ignored."""
    return cls(**{f.name: _field(f.default, data[f.name]) for f in fields(cls) if f.name in data})


def _rows(cls: Type[_Row], items: Any) -> Tuple[_Row, ...]:
    return tuple(_row(cls, x) for x in items if isinstance(x, Mapping)) if isinstance(items, list) else ()


@dataclass(frozen=True)
class ModuleRow:
    """One slow module: minimum times over the runs and the project line blamed for importing it."""

    name: str = ""
    self_ms: float = 0.0
    cumulative_ms: float = 0.0
    kind: str = ""  # project | third-party | stdlib
    imported_by: str = ""
    target: str = ""  # the top-level import it was first seen under


@dataclass(frozen=True)
class RootRow:
    """One measured top-level import (a project package or an entry module)."""

    module: str = ""
    runs: int = 0
    error: str = ""
    self_ms: Optional[float] = None  # None when the import was not measured
    cumulative_ms: Optional[float] = None


@dataclass(frozen=True)
class WaterfallRow:
    """One bar: a module placed when its import started, as long as its cumulative time."""

    name: str = ""
    kind: str = ""
    depth: int = 0
    start_ms: float = 0.0
    cumulative_ms: float = 0.0
    self_ms: float = 0.0
    target: str = ""  # the top-level import the bar belongs to
    imported_by: str = ""


@dataclass(frozen=True)
class Waterfall:
    rows: Tuple[WaterfallRow, ...] = ()
    scale_ms: float = 0.0  # the slowest top-level import: the full width of the chart
    kind: str = ""  # "tree": rows from the import trees; "modules": the slowest-modules table, no start times
    min_ms: float = 0.0  # modules faster than this were left out

    def to_json(self) -> Dict[str, Any]:
        return {
            "rows": [asdict(r) for r in self.rows],
            "scale_ms": self.scale_ms,
            "kind": self.kind,
            "min_ms": self.min_ms,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Waterfall:
        return cls(
            rows=_rows(WaterfallRow, data.get("rows")),
            scale_ms=_field(0.0, data.get("scale_ms")),
            kind=_field("", data.get("kind")),
            min_ms=_field(0.0, data.get("min_ms")),
        )


@dataclass(frozen=True)
class ImportSection:
    runs: int = 0  # measured runs per module (the fewest of any import)
    modules: Tuple[ModuleRow, ...] = ()  # the slowest modules, by cumulative time
    roots: Tuple[RootRow, ...] = ()
    python: str = ""
    waterfall: Optional[Waterfall] = None

    def to_json(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {
            "runs": self.runs,
            "modules": [asdict(m) for m in self.modules],
            "roots": [asdict(r) for r in self.roots],
            "python": self.python,
        }
        if self.waterfall is not None:  # a report written before the pass drew one has no key
            out["waterfall"] = self.waterfall.to_json()
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImportSection:
        wf = data.get("waterfall")
        return cls(
            runs=_field(0, data.get("runs")),
            modules=_rows(ModuleRow, data.get("modules")),
            roots=_rows(RootRow, data.get("roots")),
            python=_field("", data.get("python")),
            waterfall=Waterfall.from_json(wf) if isinstance(wf, Mapping) else None,
        )
