"""What setup.py and setup.cfg declare, read without running them, and the sub-projects of a monorepo."""

from __future__ import annotations

import os
import sys

from conftest import write_project

from perfscan.declared import read_declared
from perfscan.project import discover_project
from perfscan.settings import load_settings


def declared(root, files):
    write_project(root, files)
    return read_declared(root, {})


def test_setup_py_literals_names_and_star_star_dicts(tmp_path):
    d = declared(
        tmp_path,
        {
            "setup.py": (
                "import setuptools\n"
                "REQS = ['requests>=2', 'click']\n"
                "meta = dict(name='toolkit')\n"
                "extra = {'entry_points': {'console_scripts': ['tk = toolkit.cli:main', 'tk-serve=toolkit.srv:run'],\n"
                "                          'pytest11': ['tk = toolkit.plugin']}}\n"
                "setuptools.setup(**meta, packages=['toolkit', 'toolkit.sub'], py_modules=['helper'],\n"
                "                 install_requires=REQS + ['rich'], extras_require={'web': ['uvicorn']}, **extra)\n"
            )
        },
    )
    assert d.name == "toolkit"
    assert d.packages == ("toolkit", "helper")
    assert d.console_scripts == (("tk", "toolkit.cli:main"), ("tk-serve", "toolkit.srv:run"))
    assert d.requirements == ("requests>=2", "click", "rich", "uvicorn")
    assert d.pytest_plugins == ("toolkit.plugin",)


def test_setup_py_is_never_run(tmp_path):
    d = declared(
        tmp_path,
        {
            "setup.py": (
                "import sys\nraise SystemExit('never run me')\n"
                "from setuptools import setup\nsetup(name='safe', packages=['safe'])\n"
            )
        },
    )
    assert d.name == "safe" and d.packages == ("safe",)
    assert sorted(os.listdir(tmp_path)) == ["setup.py"]


def test_setup_py_find_packages_with_package_dir_and_exclude(tmp_path):
    d = declared(
        tmp_path,
        {
            "setup.py": (
                "from setuptools import setup, find_packages\n"
                "setup(name='x', package_dir={'': 'src'}, packages=find_packages(where='src', exclude=['bench*']),\n"
                "      entry_points='''\n[console_scripts]\nxtool = alpha.cli:main\n''')\n"
            ),
            "src/alpha/__init__.py": "",
            "src/benchmarks_x/__init__.py": "",
            "src/tests/__init__.py": "",
            "src/loose.py": "",
        },
    )
    assert d.packages == ("alpha",)
    assert d.package_roots == (tmp_path / "src",)
    assert d.console_scripts == (("xtool", "alpha.cli:main"),)


def test_setup_py_package_dir_per_package(tmp_path):
    d = declared(
        tmp_path,
        {"setup.py": "from setuptools import setup\nsetup(packages=['core'], package_dir={'core': 'lib/core'})\n"},
    )
    assert d.packages == ("core",) and d.package_roots == (tmp_path / "lib",)


def test_setup_py_that_does_not_parse_is_a_note(tmp_path):
    d = declared(tmp_path, {"setup.py": "setup(name='x'\n"})
    assert d.name == "" and d.packages == () and any("setup.py" in n for n in d.notes)


def test_setup_cfg(tmp_path):
    d = declared(
        tmp_path,
        {
            "setup.cfg": (
                "[metadata]\nname = cfgproj\n\n[options]\npackage_dir =\n    =src\npackages = find:\n"
                "install_requires =\n    attrs>=20\n    gunicorn\n\n"
                "[options.packages.find]\nwhere = src\n\n[options.extras_require]\ndev = pytest\n\n"
                "[options.entry_points]\nconsole_scripts =\n    cfgtool = cfgpkg.main:run\n"
            ),
            "src/cfgpkg/__init__.py": "",
        },
    )
    assert d.name == "cfgproj" and d.packages == ("cfgpkg",) and d.package_roots == (tmp_path / "src",)
    assert d.console_scripts == (("cfgtool", "cfgpkg.main:run"),)
    assert d.requirements == ("attrs>=20", "gunicorn", "pytest")


def project(root):
    return discover_project(load_settings(root, {"runner": sys.executable}), dict(os.environ))


def test_monorepo_sub_projects_found_where_the_tests_point(tmp_path):
    write_project(
        tmp_path,
        {
            "pyproject.toml": "[tool.pytest.ini_options]\ntestpaths = ['libs/*/tests']\n",
            "libs/one/pyproject.toml": "[project]\nname = 'one'\n",
            "libs/one/src/one/__init__.py": "",
            "libs/one/tests/test_one.py": "",
            "libs/two/tests/test_two.py": "",
            "libs/two/setup.py": "from setuptools import setup\nsetup(name='two', packages=['two'])\n",
            "libs/two/two/__init__.py": "",
            # not tested by the root's run, so not part of this scan
            "tools/gen/pyproject.toml": "[project]\nname = 'gen'\n",
            "tools/gen/gen/__init__.py": "",
            # inside skipped folders: never sub-projects
            "docs/example/pyproject.toml": "[project]\nname = 'ex'\n",
            "tests/fixtures/proj/setup.py": "",
        },
    )
    p = project(tmp_path)
    assert p.packages == ("one", "two")
    assert p.subprojects == ("libs/one", "libs/two")
    assert tmp_path / "libs" / "one" / "src" in p.source_roots and tmp_path / "libs" / "two" in p.source_roots
    assert p.source_roots[-1] == tmp_path  # the root last: deeper roots name the modules


def test_without_testpaths_every_sub_project_counts(tmp_path):
    write_project(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "plugins/extra/pyproject.toml": "[build-system]\nrequires = []\n",
            "plugins/extra/extra_plugin/__init__.py": "",
            "plugins/broken/pyproject.toml": "[project\n",  # pytest never reads it: no error, no sub-project
        },
    )
    p = project(tmp_path)
    assert p.packages == ("pkg", "extra_plugin") and p.subprojects == ("plugins/extra",)


def test_pytest_pythonpath_scripts_are_not_the_package(tmp_path):
    write_project(
        tmp_path,
        {
            "pytest.ini": "[pytest]\npythonpath = scripts\n",
            "scripts/release.py": "import argparse\n",
            "app.py": "def main():\n    pass\n",
        },
    )
    assert project(tmp_path).packages == ("app",)
