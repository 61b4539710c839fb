"""Discovery on the layouts people have (docs/design.md "The flow", steps 3 and 4), scanned end to
end: a setup.py CLI, a setup.cfg project, a two-package monorepo, a server's own console script.
Each gets its name, packages, qualnames and deployment right, and the import pass imports its
packages (never a loose `scripts/` program)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import SLOW_UNIQUE, assert_unchanged, load_report, run_perfscan, tree_state, write_project

pytestmark = pytest.mark.slow


def scan(root: Path, *extra: str) -> dict:
    before = tree_state(root)
    proc = run_perfscan(str(root), "--runner", sys.executable, "--budget", "120", *extra)
    assert proc.returncode == 0, proc.stderr
    assert_unchanged(before, root)  # also: setup.py was never run (it would have written a file)
    return load_report(root)


def imported(report: dict) -> list:
    """The modules the import pass imported, in order."""
    return [r["module"] for r in report["passes"]["import"]["data"]["roots"]]


def cpu_qualnames(report: dict) -> list:
    return [f["qualname"] for f in report["findings"] if f["domain"] == "cpu"]


def test_setup_py_cli(tmp_path):
    root = write_project(
        tmp_path / "tally",
        {
            # the pyflakes way: entry points in a dict bound in a try/else, passed as **extra
            "setup.py": (
                "from pathlib import Path\n"
                "Path('SETUP_PY_WAS_RUN').write_text('x')\n"
                "try:\n    from setuptools import setup, find_packages\nexcept ImportError:\n"
                "    from distutils.core import setup\n    extra = {}\n"
                "else:\n    extra = {'entry_points': {'console_scripts': ['tally = tallyho.cli:main']}}\n"
                "NAME = 'tallyho'\n"
                "setup(name=NAME, version='1', package_dir={'': 'src'},\n"
                "      packages=find_packages('src', exclude=['tests', 'tests.*']), **extra)\n"
            ),
            "src/tallyho/__init__.py": "",
            "src/tallyho/core.py": SLOW_UNIQUE,
            "src/tallyho/cli.py": (
                "import argparse\nfrom tallyho.core import slow_unique\n\n"
                "def main(argv=None):\n    argparse.ArgumentParser().parse_args(argv)\n"
                "    return len(slow_unique([i % 1500 for i in range(15000)]))\n"
            ),
            "tests/conftest.py": "import sys, pathlib\nsys.path.insert(0, str(pathlib.Path(__file__).parents[1] / 'src'))\n",
            "tests/test_cli.py": "from tallyho.cli import main\n\ndef test_main():\n    assert main([]) == 1500\n",
        },
    )
    report = scan(root, "--passes", "cpu,import")
    assert report["project"]["name"] == "tallyho" and report["project"]["packages"] == ["tallyho"]
    dep = report["deployment"]
    assert dep["model"] == "cli" and "console script tally = tallyho.cli:main" in dep["evidence"], dep
    assert dep["entry_modules"] == ["tallyho.cli"]
    assert imported(report) == ["tallyho", "tallyho.cli"]
    assert "tallyho.core:slow_unique" in cpu_qualnames(report)
    assert not any("no pyproject.toml" in w for w in report["warnings"]), report["warnings"]


def test_setup_cfg_project(tmp_path):
    root = write_project(
        tmp_path / "cfg",
        {
            "setup.cfg": (
                "[metadata]\nname = ledgerly\n\n[options]\npackage_dir =\n    =lib\npackages = find:\n"
                "install_requires =\n    requests>=2\n\n[options.packages.find]\nwhere = lib\nexclude = tests\n\n"
                "[options.entry_points]\nconsole_scripts =\n    ledger = ledgerly.main:run\n"
            ),
            "setup.py": "import setuptools\nsetuptools.setup()\n",
            "lib/ledgerly/__init__.py": "",
            "lib/ledgerly/main.py": "from ledgerly.totals import slow_unique\n\ndef run():\n    return 0\n",
            "lib/ledgerly/totals.py": SLOW_UNIQUE,
            "pytest.ini": "[pytest]\npythonpath = lib\n",
            "tests/test_totals.py": (
                "from ledgerly.totals import slow_unique\n\ndef test_work():\n"
                "    assert len(slow_unique([i % 1500 for i in range(15000)])) == 1500\n"
            ),
        },
    )
    report = scan(root, "--passes", "cpu,import")
    assert report["project"]["name"] == "ledgerly" and report["project"]["packages"] == ["ledgerly"]
    assert report["deployment"]["model"] == "cli" and report["deployment"]["entry_modules"] == ["ledgerly.main"]
    assert imported(report) == ["ledgerly", "ledgerly.main"]
    assert "ledgerly.totals:slow_unique" in cpu_qualnames(report)


def test_two_package_monorepo(tmp_path):
    root = write_project(
        tmp_path / "mono",
        {
            "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["packages/a/tests", "packages/b/tests"]\n',
            # the tests find the packages the way many monorepos do: a root conftest.py
            "conftest.py": (
                "import sys, os\nhere = os.path.dirname(os.path.abspath(__file__))\n"
                "sys.path[:0] = [os.path.join(here, 'packages/a/src'), os.path.join(here, 'packages/b')]\n"
            ),
            "packages/a/pyproject.toml": '[project]\nname = "alpha"\nversion = "1"\n',
            "packages/a/src/alpha/__init__.py": "",
            "packages/a/src/alpha/inventory.py": "def missing_skus(have, want):\n    return [x for x in want if x not in have]\n",
            "packages/a/tests/test_inventory.py": (
                "from alpha.inventory import missing_skus\n\ndef test_missing():\n"
                "    have = list(range(0, 6000, 2))\n    assert len(missing_skus(have, list(range(6000)))) == 3000\n"
            ),
            "packages/b/pyproject.toml": '[project]\nname = "beta"\nversion = "1"\n[project.scripts]\nbeta = "beta.cli:main"\n',
            "packages/b/beta/__init__.py": "",
            "packages/b/beta/cli.py": "import argparse\n\ndef main():\n    argparse.ArgumentParser().parse_args()\n",
            "packages/b/tests/test_cli.py": "import beta.cli\n\ndef test_cli():\n    assert beta.cli.main\n",
            # the repository's own tooling: neither the CLI nor a module to import
            "scripts/release.py": (
                "import argparse\nimport no_such_release_tool\n\n"
                "if __name__ == '__main__':\n    argparse.ArgumentParser().parse_args()\n"
            ),
        },
    )
    report = scan(root, "--passes", "cpu,import")
    assert report["project"]["packages"] == ["alpha", "beta"]
    assert report["project"]["subprojects"] == ["packages/a", "packages/b"]
    dep = report["deployment"]
    assert dep["model"] == "cli" and dep["evidence"] == ["console script beta = beta.cli:main"], dep
    assert dep["entry_modules"] == ["beta.cli"]
    assert imported(report) == ["alpha", "beta", "beta.cli"]
    assert report["passes"]["import"]["status"] == "ok"
    [finding] = [f for f in report["findings"] if f["symbol"] == "missing_skus"]
    assert finding["qualname"] == "alpha.inventory:missing_skus" and finding["module"] == "alpha.inventory"
    assert finding["file"] == "packages/a/src/alpha/inventory.py"


def test_server_console_script_is_a_server(tmp_path):
    # an asyncio server's own console script: its main starts the server, so the project is a
    # long-running server, and the per-request growth check (servers only) finds the leak
    root = write_project(
        tmp_path / "srv",
        {
            "pyproject.toml": (
                "[project]\nname = 'echoer'\nversion = '1'\n[project.scripts]\nechoer = 'echoer.cli:main'\n"
            ),
            "echoer/__init__.py": "",
            "echoer/middleware.py": "_SEEN = []\n\ndef track(payload):\n    _SEEN.append(payload * 2000)\n",
            "echoer/app.py": (
                "from echoer.middleware import track\n\n"
                "def respond(data):\n    track(data)\n    return b'ok:' + data\n\n"
                "async def handle(reader, writer):\n    writer.write(respond(await reader.read(100)))\n"
                "    await writer.drain()\n    writer.close()\n"
            ),
            "echoer/cli.py": (
                "import argparse\nimport asyncio\nfrom echoer.app import handle\n\n"
                "async def serve(port):\n    server = await asyncio.start_server(handle, '127.0.0.1', port)\n"
                "    async with server:\n        await server.serve_forever()\n\n"
                "def main():\n    args = argparse.ArgumentParser().parse_args()\n    asyncio.run(serve(8765))\n"
            ),
            "tests/test_app.py": (
                "from echoer.app import respond\n\ndef test_requests():\n"
                "    for i in range(10):\n        assert respond(bytes(100)).startswith(b'ok:')\n"
            ),
        },
    )
    report = scan(root, "--passes", "memory")
    dep = report["deployment"]
    assert dep["model"] == "long-running-server", dep
    assert (
        "console script echoer = echoer.cli:main starts a server (echoer/cli.py:6 asyncio.start_server())"
        in (dep["evidence"])
    )
    [growth] = [f for f in report["findings"] if f["pattern"] == "per-request-growth"]
    assert growth["qualname"] == "echoer.middleware:_SEEN" and growth["severity"] == "critical"
