"""The async pass's section of the reports, typed (its JSON keys are the report's `passes.async.data`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Tuple


@dataclass(frozen=True)
class AsyncSection:
    has_async: bool = False  # an `async def` or asyncio anywhere in the project
    files: int = 0  # project files checked
    async_files: int = 0  # files holding an `async def`
    async_functions: int = 0
    skipped: Tuple[str, ...] = ()  # "file: why" for files that do not parse or decode
    hot_path_known: bool = False  # the CPU pass said which functions ran
    confirmed: Tuple[str, ...] = ()  # qualnames of blocking-call findings confirmed at run time

    def to_json(self) -> Dict[str, Any]:
        return {"has_async": self.has_async, "files": self.files, "async_files": self.async_files,
                "async_functions": self.async_functions, "skipped": list(self.skipped),
                "hot_path_known": self.hot_path_known, "confirmed": list(self.confirmed)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "AsyncSection":
        return cls(has_async=bool(data.get("has_async")), files=int(data.get("files") or 0),
                   async_files=int(data.get("async_files") or 0), async_functions=int(data.get("async_functions") or 0),
                   skipped=tuple(str(x) for x in data.get("skipped") or ()),
                   hot_path_known=bool(data.get("hot_path_known")),
                   confirmed=tuple(str(x) for x in data.get("confirmed") or ()))
