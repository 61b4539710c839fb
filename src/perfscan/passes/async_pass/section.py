"""The async pass's section of the reports, typed (its JSON keys are the report's `passes.async.data`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Tuple


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _texts(value: Any) -> Tuple[str, ...]:
    return tuple(str(x) for x in value) if isinstance(value, list) else ()


@dataclass(frozen=True)
class AsyncSection:
    has_async: bool = False  # an `async def` or asyncio anywhere in the project
    files: int = 0  # project files checked
    async_files: int = 0  # files holding an `async def`
    async_functions: int = 0
    skipped: Tuple[str, ...] = ()  # "file: why" for files that do not parse or decode
    hot_path_known: bool = False  # the CPU pass said which functions ran
    confirmed: Tuple[str, ...] = ()  # qualnames of blocking-call findings confirmed at run time
    runtime: str = ""  # run-time confirmation: how many were confirmed, or why none was; "" with nothing to confirm

    def to_json(self) -> Dict[str, Any]:
        return {
            "has_async": self.has_async,
            "files": self.files,
            "async_files": self.async_files,
            "async_functions": self.async_functions,
            "skipped": list(self.skipped),
            "hot_path_known": self.hot_path_known,
            "confirmed": list(self.confirmed),
            "runtime": self.runtime,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AsyncSection:
        return cls(
            has_async=bool(data.get("has_async")),
            files=_count(data.get("files")),
            async_files=_count(data.get("async_files")),
            async_functions=_count(data.get("async_functions")),
            skipped=_texts(data.get("skipped")),
            hot_path_known=bool(data.get("hot_path_known")),
            confirmed=_texts(data.get("confirmed")),
            runtime=str(data.get("runtime") or ""),
        )
