"""SIGINT/SIGTERM during a run: the first stops it gracefully (checkpoint after the current update, an evaluation
in progress cut short), a second aborts at once; a signal before anything is written raises ``StoppedBeforeStart``."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any


class GracefulStop:
    """SIGINT/SIGTERM handling: the first signal stops training after the current update (which is then
    checkpointed) and cuts short an evaluation in progress (``stopping`` is checked between its steps); a
    second one aborts at once with ``KeyboardInterrupt``. Only in the main thread."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        print(
            f"\ntfpg: {signal.Signals(signum).name} received; stopping: a checkpoint is saved after this update "
            f"and an evaluation in progress is cut short (send it again to abort without saving)",
            file=sys.stderr,
        )

    def stopping(self) -> bool:
        return self.signum is not None

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class StoppedBeforeStart(KeyboardInterrupt):
    """SIGINT/SIGTERM arrived before the run directory was written: nothing was saved, nothing needs resuming."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
