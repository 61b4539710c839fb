"""bench: open-source projects with their own test suites, pinned, set up from PyPI sdists.

`python bench/oss.py [NAME ...]` downloads each project's sdist (pinned version), unpacks it into
`~/.cache/perfscan-bench/oss/<name>/` (`--root`; outside this checkout, whose pytest
configuration a project without one of its own would pick up) and makes a venv beside it with pytest, the project's test requirements and
the project itself (editable), then times one plain run of its tests. Later calls reuse what is
there. Other bench scripts import `setup(name)`. It needs PyPI once per project; nothing here is
committed but this list.

The projects are pure Python, each with a suite of a few seconds to a minute, chosen to cover
what real users have: an iterator library and a functional toolkit (CPU), a parser and a text
converter (CPU, allocation), a web framework tested through its test client (a server), and
a unittest suite (Markdown runs under `unittest` in its own CI).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Outside this checkout: pytest looks for its configuration in the folders above a project that
# has none of its own, and would find perfscan's (its rootdir, its options), which the project's
# own CI never sees
DEFAULT_ROOT = Path.home() / ".cache" / "perfscan-bench" / "oss"


@dataclass(frozen=True)
class OssProject:
    name: str  # the folder name under the root
    dist: str  # the PyPI distribution
    version: str
    test_requires: tuple = ()  # pinned, installed beside pytest
    pytest_args: tuple = ()  # what the project's own CI passes (paths, options)
    what: str = ""
    unittest: bool = False  # its own CI runs `python -m unittest discover <first pytest arg>`


PROJECTS = {
    p.name: p
    for p in (
        OssProject(
            "more-itertools", "more-itertools", "10.5.0", (), ("tests",), "iterator library, unittest-style tests"
        ),
        OssProject("toolz", "toolz", "1.0.0", (), ("toolz/tests",), "functional toolkit, tests inside the package"),
        OssProject("sqlparse", "sqlparse", "0.5.1", (), ("tests",), "SQL parser and formatter"),
        OssProject(
            "markdown", "Markdown", "3.7", ("PyYAML==6.0.2",), ("tests",), "text converter, unittest suite", True
        ),
        OssProject(
            "flask",
            "Flask",
            "3.0.3",
            ("click==8.1.7", "Werkzeug==3.0.3", "Jinja2==3.1.4", "blinker==1.8.2", "asgiref==3.8.1"),
            ("tests",),
            "web framework, tested through its test client",
        ),
        OssProject(
            "attrs", "attrs", "24.2.0", ("hypothesis==6.112.1",), ("tests",), "class builder, property-based tests"
        ),
    )
}

PIP_TIMEOUT = 600


def _run(cmd: list, cwd: Path | None = None, timeout: float = PIP_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, cwd=cwd, timeout=timeout, capture_output=True, text=True, check=True, start_new_session=True
    )


def venv_python(project_dir: Path) -> Path:
    return project_dir.parent / f"{project_dir.name}.venv" / "bin" / "python"


def setup(name: str, root: Path = DEFAULT_ROOT, python: str = sys.executable) -> Path:
    """The unpacked project's folder, with its venv ready (`venv_python(folder)`)."""
    p = PROJECTS[name]
    dest = root / name
    ready = root / f"{name}.ready"
    if ready.exists() and dest.is_dir():
        return dest
    root.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(dest, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="perfscan-oss-") as tmp:
        _run(
            [
                python,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"{p.dist}=={p.version}",
                "-d",
                tmp,
            ]
        )
        (sdist,) = [f for f in Path(tmp).iterdir() if f.name.endswith(".tar.gz")]
        with tarfile.open(sdist) as tar:
            top = tar.getnames()[0].split("/")[0]
            tar.extractall(tmp, filter="data") if sys.version_info >= (3, 12) else tar.extractall(tmp)
        shutil.move(str(Path(tmp) / top), str(dest))
    venv = venv_python(dest).parent.parent
    shutil.rmtree(venv, ignore_errors=True)
    _run([python, "-m", "venv", str(venv)])
    py = str(venv_python(dest))
    _run([py, "-m", "pip", "install", "-q", "pytest==8.3.3", *p.test_requires])
    _run([py, "-m", "pip", "install", "-q", "-e", str(dest)])
    ready.write_text(f"{p.dist}=={p.version}\n")
    return dest


def plain_run(name: str, root: Path = DEFAULT_ROOT, timeout: float = 900) -> float:
    """Seconds of one plain `pytest` run of the project's tests, as its CI runs them."""
    dest = setup(name, root)
    p = PROJECTS[name]
    if p.unittest:
        cmd = [str(venv_python(dest)), "-m", "unittest", "discover", p.pytest_args[0]]
    else:
        cmd = [str(venv_python(dest)), "-m", "pytest", "-q", "-p", "no:cacheprovider", *p.pytest_args]
    t0 = time.perf_counter()
    subprocess.run(
        cmd,
        cwd=dest,
        timeout=timeout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"projects (default: all of {', '.join(PROJECTS)})")
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="where projects and venvs go")
    args = ap.parse_args()
    for name in args.names or list(PROJECTS):
        dest = setup(name, args.root)
        secs = plain_run(name, args.root)
        print(f"{name:16} {PROJECTS[name].dist}=={PROJECTS[name].version:10} {secs:6.1f} s plain  {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
