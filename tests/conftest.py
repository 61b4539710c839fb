"""Shared helpers: corpus copies, running perfscan for real, proving the tree is unchanged."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, FrozenSet, Optional, Tuple

import pytest

REPO = Path(__file__).resolve().parents[1]
# the accuracy corpus: small projects with planted problems, each with its EXPECTED.json
CORPUS = REPO / "bench" / "corpus"
SCORER = REPO / "bench" / "score.py"


# a quadratic dedupe: the one planted hotspot of the small projects the tests build
SLOW_UNIQUE = (
    "def slow_unique(xs):\n"
    "    out = []\n"
    "    for x in xs:\n"
    "        if x not in out:\n"
    "            out.append(x)\n"
    "    return out\n"
)


def copy_project(src: Path, dest: Path) -> Path:
    shutil.copytree(
        src, dest, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".codeflash")
    )
    for dirpath, dirnames, filenames in os.walk(dest):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR)
    return dest


def perfscan_outputs() -> FrozenSet[str]:
    """The file names perfscan itself writes into an output folder: its reports and artifacts."""
    from perfscan.passes.registry import PASSES
    from perfscan.report.formats import EXTRA_FORMATS, REPORT_TWINS

    names = {f.file_name for f in REPORT_TWINS} | {f.file_name for f in EXTRA_FORMATS.values()}
    return frozenset(names | {name for p in PASSES for name in p.artifacts})


def tree_state(root: Path, whole: bool = False) -> Dict[str, Tuple[bytes, int]]:
    """Every file's bytes and permission bits (and every folder's) under root, except the files
    perfscan writes into a `.codeflash/` folder: the user's own files there (setup.md) count.
    `whole`: nothing left out (a scan that stops with an error before its reports leaves the tree
    byte-identical, no `.codeflash/` of its own)."""
    own = frozenset() if whole else perfscan_outputs()
    out: Dict[str, Tuple[bytes, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        in_out_dir = os.path.basename(dirpath) == ".codeflash"
        if (
            whole or not in_out_dir
        ):  # the output folder may be created by the scan; what the user put in it may not change
            out[rel_dir + "/"] = (b"", stat.S_IMODE(os.lstat(dirpath).st_mode))
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            if in_out_dir and name in own:
                continue
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            try:
                mode = stat.S_IMODE(os.lstat(p).st_mode)
                data = os.readlink(p).encode() if os.path.islink(p) else Path(p).read_bytes()
            except OSError:
                data, mode = b"<unreadable>", -1
            out[rel] = (data, mode)
    return out


def assert_unchanged(
    before: Dict[str, Tuple[bytes, int]], root: Path, allowed: Tuple[str, ...] = (), whole: bool = False
) -> None:
    after = tree_state(root, whole)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k) and not k.startswith(allowed))
    assert not changed, f"the scan changed the project: {changed[:10]}"


def run_perfscan(
    *args: str, cwd: Optional[Path] = None, timeout: float = 400, env: Optional[Dict[str, str]] = None
) -> subprocess.CompletedProcess:
    """perfscan as a user runs it. Without `cwd`, from a fresh empty folder that must stay empty:
    a scan writes only into its output folder, never where it was started. `env`, when given, is the
    whole environment (PYTHONPATH gains this checkout's src/ in front)."""
    if "MUTANT_UNDER_TEST" in os.environ:
        # under mutation testing (bench/mutation_score.py) only in-process calls reach the mutants
        pytest.skip("runs perfscan in a subprocess, which mutation testing does not follow")
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "src")] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    workdir = Path(tempfile.mkdtemp(prefix="perfscan-cwd-")) if cwd is None else Path(cwd)
    before = tree_state(workdir)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "perfscan", *args],
            cwd=str(workdir),
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if cwd is None:
            left = sorted(os.listdir(workdir))
            assert not left, f"perfscan wrote into its working directory: {left}"
        else:
            after = tree_state(workdir)
            # a project inside the working directory gets its .codeflash/ reports and nothing else
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            assert not changed, f"perfscan changed its working directory: {changed[:10]}"
        return proc
    finally:
        if cwd is None:
            shutil.rmtree(workdir, ignore_errors=True)


def score(project: str, report: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCORER), str(CORPUS / project / "EXPECTED.json"), str(report)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def load_report(root: Path) -> dict:
    return json.loads((root / ".codeflash" / "scan-report.json").read_text(encoding="utf-8"))


@pytest.fixture
def corpus_copy(tmp_path):
    def make(name: str) -> Path:
        return copy_project(CORPUS / name, tmp_path / name)

    return make


def write_project(root: Path, files: Dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def probe_on(root: Path, mode: str, options: Dict[str, str], timeout: float = 120):
    """The probe in `mode` over a project's tests under this python and pytest, in a private work
    folder beside the project (as a pass runs it, without the rest of the scan)."""
    from perfscan.models import Driver
    from perfscan.probe_host import install_probe, run_probe

    workdir = Path(tempfile.mkdtemp(prefix="perfscan-work-", dir=root.parent))
    return run_probe(
        mode,
        runner=[sys.executable],
        driver=Driver(),
        root=root,
        workdir=workdir,
        probe_path=install_probe(workdir),
        pytest_args=[],
        timeout=timeout,
        options=options,
    )


@pytest.fixture(scope="session", autouse=True)
def _no_hypothesis_plugin_in_scanned_runs():
    """The projects these tests scan run under this checkout's venv, whose pytest would load the
    hypothesis plugin (a dependency of perfscan's own property tests) at every start: about 1 s
    for each run of a scanned project's tests, and a scan makes several. No scanned project uses
    it. Set for the children only: this process's pytest read its options already. A test that
    gives a child its own PYTEST_ADDOPTS keeps it."""
    if "PYTEST_ADDOPTS" in os.environ:
        yield
        return
    os.environ["PYTEST_ADDOPTS"] = "-p no:hypothesispytest"
    try:
        yield
    finally:
        os.environ.pop("PYTEST_ADDOPTS", None)
