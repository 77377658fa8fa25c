"""Ctrl-C or SIGTERM during a sweep: stop after the current chunk, save, say how to resume.

While :func:`interrupts` is active (main thread, with a :class:`~jaxdl.sweep.journal.Journal`),
the first SIGINT or SIGTERM only sets ``journal.stop_requested``; the sweep saves after the
chunk it is training, writes the table so far and raises :class:`SweepInterrupted`, whose
message says how to resume (:func:`resume_hint`). A second signal interrupts at once (in the
``jaxdl`` command: ends it with one line, see :func:`jaxdl.infra.interrupt.repeated`). A strategy
made of several sweeps (Hyperband's brackets, TPE's rounds) points the resume hint at its own
directory (:func:`interrupted_in`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any, Protocol

from jaxdl.infra import interrupt

__all__ = ["SweepInterrupted", "resume_hint", "interrupted_in", "interrupts"]


class StopRequests(Protocol):
    """What :func:`interrupts` needs of a sweep's journal (:class:`jaxdl.sweep.journal.Journal`
    has it): the flag a first signal sets, the directory it names, and ``close``."""

    stop_requested: bool
    directory: str

    def close(self) -> None: ...


class SweepInterrupted(KeyboardInterrupt):
    """SIGINT stopped a sweep after a chunk; ``results`` holds the table so far (members not
    trained yet have no parameters) and ``directory`` the sweep directory to resume from.

    Args:
      message: what was interrupted and how to resume.
      results: the results so far (``None`` when there is no table yet).
      directory: the sweep directory to resume from.

    >>> from jaxdl.sweep.interruption import SweepInterrupted
    >>> stop = SweepInterrupted("sweep interrupted", None, "runs/sweep")
    >>> isinstance(stop, KeyboardInterrupt), stop.directory
    (True, 'runs/sweep')
    """

    def __init__(self, message: str, results: Any, directory: str) -> None:
        super().__init__(message)
        self.results, self.directory = results, directory


def resume_hint(directory: str | os.PathLike) -> str:
    """What is saved and how to continue the sweep in ``directory``.

    Args:
      directory: the sweep directory.

    Returns:
      A sentence for the Python call and the CLI.

    >>> from jaxdl.sweep.interruption import resume_hint
    >>> print(resume_hint("runs/sweep"))
    the sweep up to there is saved in runs/sweep; resume with the same call and
    checkpoint_dir='runs/sweep', resume=True (CLI: --checkpoint-dir runs/sweep --resume)
    """
    directory = os.fspath(directory)
    return (
        f"the sweep up to there is saved in {directory}; resume with the same call and "
        f"checkpoint_dir={directory!r}, resume=True "
        f"(CLI: --checkpoint-dir {directory} --resume)"
    )


def interrupted_in(part: str, directory: Any, stop: SweepInterrupted) -> SweepInterrupted:
    """The interruption of one sweep of a strategy (a bracket, a round), pointing at the
    strategy's own ``directory``.

    Args:
      part: the interrupted sweep, e.g. ``"round 2"``.
      directory: the strategy's directory (the one to resume with).
      stop: the interruption of that sweep.

    Returns:
      A :class:`SweepInterrupted` with ``stop``'s results and ``directory``.

    >>> from jaxdl.sweep.interruption import SweepInterrupted, interrupted_in
    >>> stop = SweepInterrupted("sweep interrupted", None, "runs/tpe/round-2")
    >>> interrupted_in("round 2", "runs/tpe", stop).directory
    'runs/tpe'
    """
    message = f"search interrupted in {part}; {resume_hint(directory)}"
    return SweepInterrupted(message, stop.results, os.fspath(directory))


@contextlib.contextmanager
def interrupts(journal: StopRequests | None) -> Iterator[None]:
    """While active (main thread, with a journal), SIGINT and SIGTERM only set
    ``journal.stop_requested``; a second signal interrupts at once
    (:func:`jaxdl.infra.interrupt.repeated`). On exit the journal's directory is released.

    Args:
      journal: the sweep's journal (``None``: Ctrl-C keeps its usual meaning).

    Returns:
      A context manager; on exit the previous handlers are back and ``journal`` closed.

    >>> from jaxdl.sweep.interruption import interrupts
    >>> import signal, tempfile
    >>> from jaxdl.sweep.journal import Journal
    >>> before = signal.getsignal(signal.SIGTERM)
    >>> journal = Journal(tempfile.mkdtemp(), {}, resume=False)
    >>> with interrupts(journal):
    ...     pass  # train chunk by chunk, saving and stopping once journal.stop_requested
    >>> journal.stop_requested, signal.getsignal(signal.SIGTERM) is before
    (False, True)
    """
    if journal is None:
        yield
        return
    try:
        if threading.current_thread() is not threading.main_thread():
            yield  # signal handlers can only be set in the main thread
            return

        def handler(signum, frame):
            if journal.stop_requested:
                interrupt.repeated(signum)
            journal.stop_requested = True
            name = interrupt.first(signum)
            print(
                f"{name}: stopping after the current chunk of epochs and saving the sweep in "
                f"{journal.directory} (Ctrl-C again to abort at once)",
                file=sys.stderr,
                flush=True,
            )

        previous = {sig: signal.signal(sig, handler) for sig in interrupt.SIGNALS}
        try:
            yield
        finally:
            for sig, before in previous.items():
                signal.signal(sig, signal.SIG_DFL if before is None else before)
    finally:
        journal.close()
