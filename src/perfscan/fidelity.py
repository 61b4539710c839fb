"""Did the passes measure the project as plain pytest runs it? (docs/design.md "Faithful runs")

Checks over what each pass's probe run saw (`PassResult.facts`), run once after the passes:

- outcomes: the plain timing run is the reference; a test whose outcome differs under a pass
  (passes plainly, fails under the profiler) is a warning naming the pass and the difference;
- copies: project modules that ran from a copy outside the scanned source (an installed
  package, another checkout) are attributed to the scanned files; the report says so, and says
  which files differ from the code that ran (content hash);
- nothing measured: a package imported from where no scanned file matches, or a test pass that
  profiled no project code, is a scan that measured nothing of the project (exit 2).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from perfscan.models import DOMAIN_TITLES, ImportedCopy, PassResult, RunFacts
from perfscan.sources import relative_posix

# the instrument each test pass runs the tests under, for "failed under the ..."
_UNDER = {"cpu": "the CPU profiler", "memory": "the memory tracer"}
# how the reason of a scan that measured nothing begins, per cause: the command line's advice follows it
NO_PROJECT_CODE = "profiled no project code"
UNMAPPED = "imported from where no scanned file matches"


def outcome_differences(reference: Optional[RunFacts], results: Mapping[str, PassResult], limit: int = 3) -> List[str]:
    """One warning per pass whose tests ended differently from the plain run's."""
    if reference is None or not reference.outcomes:
        return []
    out = []
    for domain, res in results.items():
        if res.facts is None:
            continue
        diffs = []
        for nid, (outcome, message) in res.facts.outcomes.items():
            plain = reference.outcomes.get(nid)
            if plain is None or plain[0] == outcome:
                continue
            why = message or plain[1]
            diffs.append(
                f"{nid} {_verb(plain[0])} plainly and {_verb(outcome)} under {_UNDER.get(domain, 'the ' + domain + ' pass')}"
                + (f" ({why})" if why else "")
            )
        if diffs:
            more = f"; and {len(diffs) - limit} more" if len(diffs) > limit else ""
            out.append(
                f"the {DOMAIN_TITLES.get(domain, domain)} pass's test outcomes differ from the plain run's in "
                f"{len(diffs)} test(s): " + "; ".join(diffs[:limit]) + more
            )
    return out


def _verb(outcome: str) -> str:
    return {"passed": "passed", "failed": "failed", "error": "errored", "skipped": "was skipped"}.get(outcome, outcome)


def copies_warnings(facts: Sequence[RunFacts], root: Path) -> Tuple[List[str], str]:
    """The report's warnings on project code that ran from a copy, and the reason the scan
    measured nothing when a project package ran from where no scanned file matches ("" if not)."""
    copies: Dict[str, ImportedCopy] = {}
    for f in facts:
        for c in f.copies:
            copies.setdefault(c.module, c)
    if not copies:
        return [], ""
    by_package: Dict[str, List[ImportedCopy]] = {}
    for c in copies.values():
        by_package.setdefault(c.module.partition(".")[0], []).append(c)
    warnings: List[str] = []
    unmapped: List[str] = []
    for package, mods in sorted(by_package.items()):
        mapped = [c for c in mods if c.project is not None]
        where = _package_place(package, mods)
        if not mapped:
            unmapped.append(f"{package} from {where}")
            continue
        scanned = _package_place(package, mapped, project=True, root=root)
        text = (
            f"project package {package} ran from a copy outside the scanned source ({where}); its samples, "
            f"allocations and call counts are attributed to the scanned files at the same paths ({scanned})"
        )
        differ = sorted(_rel(c.project, root) for c in mapped if c.same is False and c.project)
        missing = sorted(c.module for c in mods if c.project is None)
        if differ:
            text += (
                f"; {len(differ)} of {len(mapped)} modules that ran differ from the scanned source (content hash): "
                + ", ".join(differ[:5])
                + (f" and {len(differ) - 5} more" if len(differ) > 5 else "")
                + "; findings there describe the scanned file, not the code that ran: reinstall the project "
                "from this checkout (pip install .) or scan the checkout it was installed from"
            )
        else:
            text += f"; the {len(mapped)} modules that ran are the same as the scanned source (content hash)"
        if missing:
            text += f"; {len(missing)} module(s) that ran have no scanned file: " + ", ".join(missing[:5])
        warnings.append(text)
    reason = ""
    if unmapped:
        reason = f"project package(s) {UNMAPPED}: " + "; ".join(unmapped)
    return warnings, reason


def _package_place(package: str, mods: Sequence[ImportedCopy], project: bool = False, root: Path = Path()) -> str:
    """The folder a package's modules ran from (or map to), from its `__init__` or first module."""
    head = next((c for c in mods if c.module == package), mods[0])
    path = (head.project if project else head.running) or head.running
    depth = head.module.count(".") + (1 if os.path.basename(path) == "__init__.py" else 0)
    folder = path
    for _ in range(depth):
        folder = os.path.dirname(folder)
    return _rel(folder, root) if project else folder


def _rel(path: str, root: Path) -> str:
    return relative_posix(Path(path), root) or path


def no_project_code(results: Mapping[str, PassResult]) -> str:
    """Why a test pass that ran tests measured nothing of the project's code, or ""."""
    empty = []
    for domain, res in results.items():
        f = res.facts
        if f is None or res.status != "ok" or not f.outcomes:
            continue
        profiled = f.profiled_project
        if profiled is None and f.project_modules is not None:
            profiled = f.project_modules > 0
        if profiled is False:
            empty.append(DOMAIN_TITLES.get(domain, domain))
    if not empty:
        return ""
    return (
        f"the {' and '.join(empty)} pass {NO_PROJECT_CODE}: the tests ran, but no module of the project "
        "was loaded from the scanned source or a copy of it"
    )


def advice(unmeasured: str) -> str:
    """What to do about a scan that measured nothing, for the command line's error."""
    if UNMAPPED in unmeasured:
        return (
            "install the project from this checkout (pip install -e .), or pass --runner with a python "
            "whose environment imports it from here"
        )
    if NO_PROJECT_CODE in unmeasured:
        return (
            "check that the tests import the project's packages in the test process (code run in a "
            "subprocess is not profiled), or pass --test with tests that do"
        )
    return "run the tests with the project's python (--runner), or pass --passes import,async to scan without them"
