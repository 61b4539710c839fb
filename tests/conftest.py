"""Shared helpers: corpus copies, running perfscan for real, proving the tree is unchanged."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional, Tuple

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


def tree_state(root: Path, whole: bool = False) -> Dict[str, bytes]:
    """Every file's bytes (and every folder) under root, except .codeflash/ (unless `whole`: a scan
    that stops with an error before its reports leaves the tree byte-identical, no .codeflash/)."""
    out: Dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if whole or d != ".codeflash"]
        rel_dir = os.path.relpath(dirpath, root)
        out[rel_dir + "/"] = b""
        for name in filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            try:
                out[rel] = os.readlink(p).encode() if os.path.islink(p) else Path(p).read_bytes()
            except OSError:
                out[rel] = b"<unreadable>"
    return out


def assert_unchanged(before: Dict[str, bytes], root: Path, allowed: Tuple[str, ...] = (), whole: bool = False) -> None:
    after = tree_state(root, whole)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k) and not k.startswith(allowed))
    assert not changed, f"the scan changed the project: {changed[:10]}"


def run_perfscan(
    *args: str, cwd: Optional[Path] = None, timeout: float = 400, env: Optional[Dict[str, str]] = None
) -> subprocess.CompletedProcess:
    """perfscan from this checkout; `env`, when given, is the whole environment (PYTHONPATH gains
    this checkout's src/ in front)."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "src")] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    return subprocess.run(
        [sys.executable, "-m", "perfscan", *args],
        cwd=str(cwd or REPO),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


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
