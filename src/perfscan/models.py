"""The values passed between the stages of a scan (docs/design.md "The flow").

Every stage takes the previous stage's value and returns one of these frozen dataclasses.
Passes return `PassResult`s holding unranked `Finding`s; ranking turns them into `RankedFinding`s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

DOMAINS: Tuple[str, ...] = ("cpu", "memory", "import", "async")
# Tie-break order of domains in the ranking (docs/design.md "Ranking", rule 3).
DOMAIN_ORDER: Tuple[str, ...] = ("cpu", "memory", "async", "import")
DOMAIN_TITLES: Mapping[str, str] = {"cpu": "CPU", "memory": "Memory", "import": "Import", "async": "Async"}
SEVERITIES: Tuple[str, ...] = ("critical", "high", "medium", "low", "info")
MODELS: Tuple[str, ...] = ("long-running-server", "cli", "serverless", "library", "unknown")
PASS_STATUSES: Tuple[str, ...] = ("ok", "failed", "skipped", "timed-out")
# the test runners perfscan can drive (docs/design.md "Test runner")
TEST_RUNNERS: Tuple[str, ...] = ("pytest", "unittest", "django")


@dataclass(frozen=True)
class Thresholds:
    """Severity bounds of the measured domains (docs/design.md "Ranking", rule 1), user-adjustable.

    domain -> ((lower bound, exclusive, severity), ...) from the top level down. The lowest bound
    is also where a pass starts reporting: a user who raises it hears about less."""

    table: Tuple[Tuple[str, Tuple[Tuple[float, str], ...]], ...] = (
        ("cpu", ((20.0, "critical"), (5.0, "high"), (2.0, "medium"))),  # attributable share, %
        ("memory", ((100.0, "critical"), (10.0, "high"), (1.0, "medium"))),  # MiB at the peak
        ("import", ((500.0, "high"), (100.0, "medium"), (50.0, "low"))),  # ms, minimum of runs
    )

    def levels(self, domain: str) -> Tuple[Tuple[float, str], ...]:
        return dict(self.table).get(domain, ())

    def bound(self, domain: str, severity: str) -> Optional[float]:
        return next((b for b, s in self.levels(domain) if s == severity), None)

    def floor(self, domain: str) -> float:
        """The lowest bound: findings at or below it are not reported."""
        levels = self.levels(domain)
        return levels[-1][0] if levels else 0.0

    def high(self, domain: str) -> Optional[float]:
        """The `high` bound, the unit of magnitude when ordering within a severity."""
        return self.bound(domain, "high")


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Settings:
    """What the user asked for, merged from defaults, setup.md, [tool.perfscan] and flags."""

    path: Path
    tests: Tuple[str, ...] = ()
    runner: Optional[str] = None
    out: Optional[Path] = None
    passes: Tuple[str, ...] = DOMAINS
    startup: bool = False
    budget: float = 300.0
    quiet: bool = False
    pytest_args: Tuple[str, ...] = ()
    fail_on: Optional[str] = None
    formats: Tuple[str, ...] = ()
    blocking_calls: Tuple[str, ...] = ()
    exclude: Tuple[str, ...] = ()
    exec_command: Tuple[str, ...] = ()
    test_command: Optional[str] = None
    memory_repeat: int = 0  # per-request growth check for a project that is not a server (2 is the design's count)
    memory_screen: bool = True  # the memory pass screens every test untraced first; False: every test traced
    cpu_engine: Optional[str] = None  # auto | sample | cprofile; None: $PERFSCAN_CPU_ENGINE, else auto
    test_runner: Optional[str] = None  # pytest | unittest | django; None: chosen from the environment
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    origins: Mapping[str, str] = field(default_factory=dict)  # setting name -> where it came from
    notes: Tuple[str, ...] = ()  # configuration problems perfscan worked around (shown in the report)


# what a runner changes in the environment of the python it starts: variable -> its value there
# (None: the runner removes it)
RunnerEnv = Tuple[Tuple[str, Optional[str]], ...]


def with_runner_env(env: Mapping[str, str], runner_env: RunnerEnv) -> Dict[str, str]:
    """`env` as a runner hands it to its python."""
    out = dict(env)
    for key, value in runner_env:
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class Project:
    """The project as found on disk (docs/design.md stage "project")."""

    root: Path
    name: str
    packages: Tuple[str, ...]  # top-level importable packages or modules
    source_roots: Tuple[Path, ...]  # folders on sys.path for the project's code (root, src/, pytest pythonpath)
    tests_dir: Optional[Path]
    console_scripts: Tuple[Tuple[str, str], ...]  # (name, "module:attr")
    dependencies: Tuple[str, ...]  # requirement names, lower-case
    runner: Tuple[str, ...]  # argv prefix that ends in a python
    runner_origin: str
    python_version: str
    has_pytest: bool
    has_memray: bool = False
    pytest_plugins: Tuple[str, ...] = ()  # modules of the project's own pytest11 entry points (test harness)
    pyproject: Mapping[str, Any] = field(default_factory=dict)
    notes: Tuple[str, ...] = ()
    subprojects: Tuple[str, ...] = ()  # monorepo: folders (posix, root-relative) whose packages joined the root's
    has_django: bool = False
    has_pytest_django: bool = False
    # how children start the runner's python where that is not the runner itself (a pyenv shim,
    # `uv run`): the python, and what the runner changes in its environment (runner.direct_launch)
    launch: Tuple[str, ...] = ()
    launch_env: RunnerEnv = ()

    def command(self) -> Tuple[str, ...]:
        """The argv prefix a child starts the project's python with."""
        return self.launch or self.runner


@dataclass(frozen=True)
class Deployment:
    model: str
    evidence: Tuple[str, ...]
    entry_modules: Tuple[str, ...]  # modules the deployment imports first (CLI, app, handler)


# pytest options whose value is the next argument (`-k expr`); anything else starting with `-` stands alone
_PYTEST_VALUE_OPTIONS = frozenset(
    {
        "-k",
        "-m",
        "-p",
        "-c",
        "-o",
        "-W",
        "-r",
        "--rootdir",
        "--deselect",
        "--ignore",
        "--ignore-glob",
        "--confcutdir",
        "--basetemp",
        "--maxfail",
        "--tb",
        "--durations",
        "--durations-min",
        "--import-mode",
        "--log-level",
        "--log-format",
        "--log-file",
        "--log-cli-level",
        "--override-ini",
        "--pythonwarnings",
        "--junitxml",
        "--junit-xml",
        "--config-file",
        "--inifile",
        "--capture",
        "--show-capture",
        "--cov",
        "--cov-report",
        "--cov-config",
        "-n",
        "--numprocesses",
        "--dist",
        "--timeout",
        "--reruns",
        "--count",
        "--randomly-seed",
        "--hypothesis-seed",
    }
)


def pytest_options_only(args: Tuple[str, ...]) -> Tuple[str, ...]:
    """`args` without its file and folder arguments (`tests/unit`, `tests/test_a.py::test_b`)."""
    out = []
    takes_value = maybe_value = False
    for arg in args:
        if takes_value:
            out.append(arg)
            takes_value = False
        elif arg.startswith("-"):
            out.append(arg)
            takes_value = arg in _PYTEST_VALUE_OPTIONS
            # a plugin's option may take a value too: after `--env`, `prod` is kept, `tests/` is not
            maybe_value = not takes_value and arg.startswith("--") and "=" not in arg
        elif maybe_value and not ("::" in arg or "/" in arg or arg.endswith(".py")):
            out.append(arg)
            maybe_value = False
        else:
            maybe_value = False  # a path: node ids chosen from inside it take its place
    return tuple(out)


@dataclass(frozen=True)
class Driver:
    """The test runner that runs the project's tests, and why it was chosen (docs/design.md "Test runner")."""

    name: str = "pytest"  # one of TEST_RUNNERS
    why: str = ""
    django_settings: str = ""  # django: DJANGO_SETTINGS_MODULE as manage.py sets it ("": the environment's)


@dataclass(frozen=True)
class Target:
    """What the test passes profile."""

    tests: Tuple[str, ...]  # pytest node ids; empty with mode "none" or "exec"
    pytest_args: Tuple[str, ...]
    mode: str  # "all" | "selected" | "user" | "none" | "exec"
    collected: int
    note: str = ""
    exec_command: Tuple[str, ...] = ()
    neutralized: Tuple[str, ...] = ()  # what perfscan changed in the project's test set-up, and why
    left_out: Tuple[Tuple[str, str], ...] = ()  # (node id, why): tests that cut the timing run short
    driver: Driver = Driver()
    # pytest's rootdir when it is not the project root (a pytest configuration in a folder above
    # it, or below it: tests/pytest.ini): the node ids are relative to it, and a child runs in the
    # project root
    rootdir: str = ""

    def pytest_argv(self) -> Tuple[str, ...]:
        """Arguments for a profiled run of the test runner: the whole suite runs as configured,
        else the node ids."""
        if self.mode == "all" or not self.tests:
            return self.pytest_args
        return self.argv_with(self.tests)

    def argv_with(self, tests: Tuple[str, ...]) -> Tuple[str, ...]:
        """The test runner's arguments that run only `tests` (node ids).

        pytest: the user's paths (`-- tests/unit`) are dropped: the ids were collected from them,
        and pytest would run a path's every test beside the ids. unittest and Django: the
        arguments stay (they say how to load the suite) and the probe keeps only the ids."""
        if self.driver.name != "pytest":
            return self.pytest_args + tuple(tests)
        return pytest_options_only(self.pytest_args) + tuple(self._as_argument(t) for t in tests)

    def _as_argument(self, nodeid: str) -> str:
        if not self.rootdir:
            return nodeid
        path, sep, rest = nodeid.partition("::")
        return os.path.join(self.rootdir, path) + sep + rest


def other_rootdir(rootdir: Any, root: Path) -> str:
    """pytest's rootdir (collected.json's) when it is not the project root, else "": the node ids
    are relative to it."""
    if not rootdir or not isinstance(rootdir, str):
        return ""
    try:
        same = Path(rootdir).resolve() == Path(root).resolve()
    except OSError:
        return ""
    return "" if same else rootdir


@dataclass(frozen=True)
class Metric:
    value: float
    unit: str
    label: str


@dataclass(frozen=True)
class HotLine:
    """One of the lines a CPU finding's function spent its time at (docs/design.md "Hot lines").

    Seconds are per run of the tests; `share_pct` is the line's part of the function's time
    measured by line (CPU plus waiting). `wait_seconds` is None where waiting was not measured."""

    line: int
    seconds: float
    share_pct: float
    cpu_seconds: float
    wait_seconds: Optional[float]
    text: str  # the source line, stripped, control characters escaped, truncated; "" when unreadable
    # a loop's header: the loop's last line. Work in the loop's body that makes no call (an `in`
    # test, arithmetic) is sampled at the loop's back edge, filed under the header
    end_line: Optional[int] = None

    def shows_waiting(self) -> bool:
        """Whether the report says how much of the line was waiting: a point or more of the
        function's time, and a twentieth of the line's (a CPU line on a loaded machine reads a
        tick or two of waiting: not worth a word)."""
        return round(self.waiting_pct()) >= 1 and (self.wait_seconds or 0.0) >= 0.05 * self.seconds

    def waiting_pct(self) -> float:
        """The part of the function's time this line spent waiting (0 where waiting was not measured)."""
        if not self.wait_seconds or self.seconds <= 0:
            return 0.0
        return self.share_pct * min(self.wait_seconds / self.seconds, 1.0)

    def to_json(self) -> Dict[str, Any]:
        return {
            "line": self.line,
            "seconds": self.seconds,
            "share_pct": self.share_pct,
            "cpu_seconds": self.cpu_seconds,
            "wait_seconds": self.wait_seconds,
            "text": self.text,
            **({"end_line": self.end_line} if self.end_line is not None else {}),
        }

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> HotLine:
        def number(value: Any) -> float:
            # kept as written (an int stays an int): the report reads the same when written again
            return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0

        line, end = d.get("line"), d.get("end_line")
        wait = d.get("wait_seconds")
        return HotLine(
            line=line if isinstance(line, int) and not isinstance(line, bool) else 0,
            seconds=number(d.get("seconds")),
            share_pct=number(d.get("share_pct")),
            cpu_seconds=number(d.get("cpu_seconds")),
            wait_seconds=None if wait is None else number(wait),
            text=str(d.get("text") or ""),
            end_line=end if isinstance(end, int) and not isinstance(end, bool) else None,
        )


def hot_lines_of(details: Mapping[str, Any]) -> Tuple[HotLine, ...]:
    """A finding's hot lines, from a scan (HotLine values) or a saved report (JSON objects);
    none when the finding has none (other domains, cProfile, a report older than the field)."""
    raw = details.get("hot_lines")
    if not isinstance(raw, (list, tuple)):
        return ()
    out = []
    for item in raw:
        if isinstance(item, HotLine):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(HotLine.from_json(item))
    return tuple(h for h in out if h.line > 0)


@dataclass(frozen=True)
class Finding:
    """One thing worth fixing, as a pass sees it (before ranking)."""

    domain: str
    symbol: str
    qualname: str
    module: Optional[str]
    file: Optional[str]  # posix, relative to the project root; None for third-party modules
    line: Optional[int]
    metric: Metric
    pattern: str
    evidence: str
    estimated_impact: str
    phase: str  # setup | call | teardown | import | static | run
    runtime_confirmed: bool = False
    hot_path: bool = False  # async: the function ran under the profiler
    third_party: bool = False  # import: the module is not the project's
    details: Mapping[str, Any] = field(default_factory=dict)  # domain-specific extras for the reports


@dataclass(frozen=True)
class Artifact:
    path: Path
    description: str
    open_with: str = ""


@dataclass(frozen=True)
class ImportedCopy:
    """A project module that ran from a copy outside its place in the scanned source (installed
    into site-packages, editable from another checkout)."""

    module: str
    running: str  # absolute path of the file that ran
    project: Optional[str]  # absolute path of the scanned source file it maps to; None: there is none
    same: Optional[bool]  # the two files hold the same bytes (content hash); None: not compared


@dataclass(frozen=True)
class RunFacts:
    """What a pass's probe run saw, for the scan's checks against plain pytest (docs/design.md
    "Faithful runs"): each finished test's outcome, the project modules that ran from a copy, and
    whether the run profiled any project code."""

    outcomes: Mapping[str, Tuple[str, str]] = field(default_factory=dict)  # nodeid -> (outcome, message)
    copies: Tuple[ImportedCopy, ...] = ()
    project_modules: Optional[int] = None  # project modules loaded in the run; None: the run did not say
    profiled_project: Optional[bool] = None  # the pass found project code in what it measured; None: unknown


@dataclass(frozen=True)
class PassResult:
    domain: str
    status: str  # ok | failed | skipped | timed-out
    seconds: float
    error: str = ""
    findings: Tuple[Finding, ...] = ()
    artifacts: Tuple[Artifact, ...] = ()
    notes: Tuple[str, ...] = ()  # lines for the domain's section of the report
    data: Any = field(default_factory=dict)  # the section for the reports: a typed dataclass with to_json(), or a dict
    facts: Optional[RunFacts] = None  # what its main probe run saw (not in the report: the scan's checks read it)


@dataclass(frozen=True)
class RankedFinding:
    finding: Finding
    rank: int
    severity: str
    base_severity: str
    note: str
    magnitude: float


@dataclass(frozen=True)
class ScanResult:
    settings: Settings
    project: Project
    deployment: Deployment
    target: Target
    passes: Mapping[str, PassResult]
    findings: Tuple[RankedFinding, ...]
    date: str
    tool_version: str
    warnings: Tuple[str, ...] = ()
    # why the test passes measured nothing ("no tests ran: ..."), "" when they measured: such a
    # scan is an error (exit 2), never a green result
    unmeasured: str = ""
    failed_tests: int = 0  # tests that failed (or errored) in the plain timing run
    # what perfscan changed in the children's environment and pytest's command line, each with its reason
    environment: Tuple[str, ...] = ()
