"""Ctrl-C and SIGTERM during training: finish the epoch, checkpoint, stop cleanly.

Inside a :class:`Deferred` block the first SIGINT or SIGTERM only records the signal's name in
``requested``; the training loop looks at it after each epoch (an epoch is one compiled call and
cannot be cut short), writes a checkpoint and stops. A second signal interrupts at once with
``KeyboardInterrupt``. Handlers are installed only in the main thread (Python delivers signals
there); elsewhere signals keep their usual behaviour. The previous handlers come back on exit.

The ``jaxdl`` command installs :class:`CommandSignals` first thing (when this module is imported
by ``import jaxdl`` in a process started as ``jaxdl`` or ``python -m jaxdl``, see
:func:`launched_as_command`, before JAX loads): a signal while it starts (imports, parsing)
ends it at once with one line and exit status 130; while the command runs,
the first signal outside a deferred block raises ``KeyboardInterrupt`` (reported as one line),
and a second signal, anywhere, ends the process at once with one line saying what stays saved
(:func:`repeated`), never with a traceback.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_INTERRUPTED = 130


class CommandSignals:
    """SIGINT and SIGTERM of the ``jaxdl`` command (see the module docstring).

    Attributes:
      running: the command's own code runs (a first signal raises ``KeyboardInterrupt``);
        before that a signal ends the process at once.
      finished: the command has returned (a signal while Python shuts down ends it at once).
      received: the name of the first signal, or ``None``.
      saved: what stays on disk when the run is stopped, for the one-line message.

    >>> signals = CommandSignals()
    >>> signals.running = True
    >>> try:
    ...     signals.handle(signal.SIGTERM, None)
    ... except KeyboardInterrupt as err:
    ...     print(err, signals.received)
    SIGTERM SIGTERM
    """

    def __init__(self, prog: str = "jaxdl") -> None:
        self.prog, self.running, self.finished = prog, False, False
        self.received: str | None = None
        self.saved = "nothing saved"
        self._previous: dict[int, Any] = {}

    def handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.received is not None:
            self.abort(f"second {name}: stopped at once; {self.saved}")
        if self.finished:
            self.abort(f"interrupted by {name} while exiting; the command had finished")
        if not self.running:
            self.abort(f"interrupted by {name} while starting; nothing saved")
        self.received = name
        raise KeyboardInterrupt(name)

    def abort(self, message: str) -> None:
        """Print ``<prog>: <message>`` on stderr and end the process with status 130 at once
        (no ``finally`` blocks, no traceback: files jaxdl writes are atomic or cut on resume)."""
        try:
            sys.stdout.flush()
        except Exception:  # noqa: BLE001 - a closed or broken stdout must not stop the exit
            pass
        os.write(2, f"{self.prog}: {message}\n".encode(errors="replace"))
        os._exit(EXIT_INTERRUPTED)

    def install(self) -> CommandSignals:
        """Handle SIGINT and SIGTERM (main thread only); :meth:`uninstall` puts the previous
        handlers back."""
        global _COMMAND
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self.handle)
            _COMMAND = self
        return self

    def uninstall(self) -> None:
        global _COMMAND
        for sig, previous in self._previous.items():
            signal.signal(sig, signal.SIG_DFL if previous is None else previous)
        self._previous.clear()
        if _COMMAND is self:
            _COMMAND = None


_COMMAND: CommandSignals | None = None


def command_signals() -> CommandSignals | None:
    """The installed :class:`CommandSignals` (``None`` outside the ``jaxdl`` command).

    >>> command_signals() is None
    True
    """
    return _COMMAND


def launched_as_command(argv: list[str] | None = None) -> bool:
    """Whether this process runs the ``jaxdl`` command: the console script or ``python -m
    jaxdl`` (or ``jaxdl.cli``), read from the interpreter's own command line.

    Args:
      argv: the interpreter's command line (default ``sys.orig_argv``).

    >>> launched_as_command(["python", "-X", "importtime", "-m", "jaxdl", "train"])
    True
    >>> launched_as_command(["/venv/bin/python", "/venv/bin/jaxdl", "sweep"])
    True
    >>> launched_as_command(["python", "-m", "pytest"]), launched_as_command(["python", "-c", "1"])
    (False, False)
    """
    args = list(getattr(sys, "orig_argv", sys.argv) if argv is None else argv)[1:]
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
        elif arg in ("-X", "-W", "--check-hash-based-pycs"):
            skip = True  # an option with a value
        elif arg.startswith("-m"):
            name = arg[2:] or (args[i + 1] if i + 1 < len(args) else "")
            return name in ("jaxdl", "jaxdl.cli")
        elif arg.startswith("-c") or arg == "-":
            return False
        elif not arg.startswith("-"):
            return os.path.basename(arg) == "jaxdl"
    return False


def first(signum: int) -> str:
    """Record a first signal that a deferred block took (so that a later one, even after the
    block, ends the ``jaxdl`` command at once); returns the signal's name.

    >>> first(signal.SIGTERM)
    'SIGTERM'
    """
    name = signal.Signals(signum).name
    if _COMMAND is not None:
        _COMMAND.received = name
    return name


def repeated(signum: int) -> None:
    """A second signal while the first is being handled: inside the ``jaxdl`` command the
    process ends at once (one line, status 130); elsewhere ``KeyboardInterrupt`` is raised.

    >>> try:
    ...     repeated(signal.SIGINT)
    ... except KeyboardInterrupt as err:
    ...     print(err)
    second SIGINT: stopped at once
    """
    name = signal.Signals(signum).name
    if _COMMAND is not None:
        _COMMAND.abort(f"second {name}: stopped at once; {_COMMAND.saved}")
    raise KeyboardInterrupt(f"second {name}: stopped at once")


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
            repeated(signum)
        self.requested = first(signum)

    def __enter__(self) -> Deferred:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, signal.SIG_DFL if previous is None else previous)
        self._previous.clear()


if launched_as_command() and threading.current_thread() is threading.main_thread():
    CommandSignals().install()  # before JAX loads: Ctrl-C while starting is one line
