"""perfscan's probe: the instruments that run inside the project's interpreter.

The host copies this package into its private temp folder as the top-level package
`perfscan_probe` and runs `<runner> python -m perfscan_probe <pass> --out DIR --driver <test
runner> -- <the test runner's args>` (see `__main__.py`); pytest, unittest and Django's runner
each have a driver, and all of them call the same per-test session (`session.py`).
Standard library only, Python 3.9 to 3.13: the project's environment has no perfscan.
Host and probe share nothing but the JSON files described in `contract.py` and the exit code.
"""
