"""Which CPU engine a scan asked for: read by the CPU pass, and by the orchestrator, which asks
the timing run to sample the tests too when that run can be the CPU pass's run
(docs/design.md "One run, two jobs")."""

from __future__ import annotations

import os
from typing import Tuple

from perfscan.models import Settings

ENGINES = ("cprofile", "sample", "auto")
DEFAULT_ENGINE = "auto"
ENGINE_ENV = "PERFSCAN_CPU_ENGINE"


def asked_engine(settings: Settings) -> Tuple[str, str]:
    """The engine asked for (settings' cpu_engine, else $PERFSCAN_CPU_ENGINE, else the default), and a note when it is not valid."""
    asked = getattr(settings, "cpu_engine", None) or os.environ.get(ENGINE_ENV) or DEFAULT_ENGINE
    engine = str(asked).strip().lower()
    if engine not in ENGINES:
        return DEFAULT_ENGINE, f"unknown CPU engine {asked!r} (use one of {', '.join(ENGINES)}); used {DEFAULT_ENGINE}"
    return engine, ""
