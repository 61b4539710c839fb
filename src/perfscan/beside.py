"""A pass started beside the timing run: docs/design.md "Side by side".

The memory pass runs the whole suite when the timing run does. Where a core is free it starts
with the timing run, on the guess that the suite finishes in its slice, as most suites do. The
first timing run settles the guess as soon as it ends: a run that was cut (a slow suite, a
hanging test) or did not run its tests calls the pass off (its children killed, its later ones
never started), and the pass runs in its turn on the tests the timing run chose. Its runs write
to a folder of their own, so a pass called off leaves nothing the later one could read.
"""

from __future__ import annotations

import itertools
import threading
from typing import Callable, Optional

from perfscan import children
from perfscan.models import PassResult
from perfscan.passes import PassContext
from perfscan.passes.registry import Pass

_SERIAL = itertools.count(1)  # a crew called off stays called off: each pass beside gets a name of its own


class Beside:
    """One pass running in a thread of its own, its children a crew the scan can call off."""

    def __init__(self, spec: Pass, ctx: PassContext, run: Callable[[Pass, PassContext], PassResult]) -> None:
        self.spec = spec
        self.crew = f"beside-{spec.domain}-{next(_SERIAL)}"
        self._result: Optional[PassResult] = None
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, args=(ctx, run), name=f"perfscan-{self.crew}", daemon=True)
        self._thread.start()

    def _run(self, ctx: PassContext, run: Callable[[Pass, PassContext], PassResult]) -> None:
        with children.crew(self.crew):
            try:
                self._result = run(self.spec, ctx)
            except BaseException as exc:  # handed to the thread that asks for the result
                self._error = exc

    def call_off(self) -> None:
        children.call_off(self.crew)

    @property
    def called_off(self) -> bool:
        return children.called_off(self.crew)

    def result(self) -> PassResult:
        """The pass's result, once it has finished (an error it raised is raised here)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result
