"""Ctrl-C and SIGTERM during training: finish the epoch, checkpoint, stop cleanly.

Inside a :class:`Deferred` block the first SIGINT or SIGTERM only records the signal's name in
``requested``; the training loop looks at it after each epoch (an epoch is one compiled call and
cannot be cut short), writes a checkpoint and stops. A second signal interrupts at once with
``KeyboardInterrupt``. Handlers are installed only in the main thread (Python delivers signals
there); elsewhere signals keep their usual behaviour. The previous handlers come back on exit.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Deferred:
    """Defer SIGINT/SIGTERM to the next check of ``requested`` (a context manager).

    >>> with Deferred() as stop:
    ...     stop.requested is None
    True
    """

    def __init__(self) -> None:
        self.requested: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is not None:
            raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: stopped at once")
        self.requested = signal.Signals(signum).name

    def __enter__(self) -> Deferred:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, signal.SIG_DFL if previous is None else previous)
        self._previous.clear()
