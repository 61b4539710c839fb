"""Which folders and files under the project's root are not its code: one rule for host and probe.

Standard library only, like the rest of the probe: the host imports it as `perfscan.probe.paths`
(`perfscan.sources`), the probe inside the project's interpreter as `perfscan_probe.paths`.
"""

# Folders that hold no project code: version control, virtual environments, builds, caches,
# vendored code, tests, docs and examples. A `*.egg-info` folder counts too (is_skipped_dir).
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        "env",
        ".env",
        "node_modules",
        "build",
        "dist",
        "__pycache__",
        ".codeflash",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "site-packages",
        "dist-packages",
        "vendor",
        "_vendor",
        "vendored",
        "third_party",
        ".eggs",
        "tests",
        "test",
        "testing",
        "docs",
        "examples",
        "benchmarks",
        "bench",
    }
)


def is_skipped_dir(name: str) -> bool:
    """Whether a folder of this name holds no project code."""
    return name in SKIP_DIRS or name.endswith(".egg-info")


def is_test_file(name: str) -> bool:
    """Whether a file of this name is a test module or a conftest.py."""
    return name == "conftest.py" or (name.startswith("test_") and name.endswith(".py")) or name.endswith("_test.py")
