"""Exit statuses and error reports of the ``jaxdl`` command.

Every failure is one ``jaxdl: error: ...`` line on stderr with its exit status (see
:mod:`jaxdl.cli`), except a bug in jaxdl, which prints its traceback and asks to be reported.
"""

from __future__ import annotations

import argparse
import contextlib
import linecache
import os
import sys
import threading
import traceback
import warnings
from collections.abc import Iterator
from typing import Any

import jaxdl
from jaxdl.infra import interrupt
from jaxdl.train import TrainingDiverged, TrainingInterrupted

PROG = "jaxdl"
EXIT_FAILED, EXIT_USAGE, EXIT_IO, EXIT_INTERRUPTED = 1, 2, 3, 130
PACKAGE = os.path.dirname(os.path.abspath(jaxdl.__file__))


def error(message: str, code: int, kind: str = "error: ") -> int:
    """Print ``jaxdl: <kind><message>`` on stderr and return the exit status ``code``.

    Args:
      message: what went wrong and how to fix it.
      code: the exit status to return.
      kind: the prefix after ``jaxdl: `` (``""`` for an interruption).

    Returns:
      ``code``.

    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     code = error("--epochs must be >= 1", EXIT_USAGE)
    >>> code, err.getvalue()
    (2, 'jaxdl: error: --epochs must be >= 1\\n')
    """
    print(f"{PROG}: {kind}{message}", file=sys.stderr)
    return code


def note(message: str) -> None:
    """Print ``jaxdl: note: <message>`` on stderr (something skipped, not an error).

    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     note("plots skipped")
    >>> err.getvalue()
    'jaxdl: note: plots skipped\\n'
    """
    print(f"{PROG}: note: {message}", file=sys.stderr)


def _show_warning(message: Any, category: Any, *rest: Any, **kwargs: Any) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


@contextlib.contextmanager
def _command_signals() -> Iterator[interrupt.CommandSignals | None]:
    """SIGTERM acts like Ctrl-C for the whole command (``fit`` and sweeps defer both to the end
    of an epoch or chunk); a second signal stops at once (:class:`jaxdl.infra.interrupt.
    CommandSignals`, installed here unless :func:`jaxdl.cli.main` already did)."""
    signals = interrupt.command_signals()
    if signals is not None or threading.current_thread() is not threading.main_thread():
        yield signals
        return
    signals = interrupt.CommandSignals(PROG).install()
    signals.running = True
    try:
        yield signals
    finally:
        signals.uninstall()


def run_command(args: argparse.Namespace) -> int:
    """Run ``args.run(args)`` and turn what it raises into one line on stderr and an exit status.

    SIGTERM is handled like Ctrl-C; warnings print as ``jaxdl: warning: ...``.

    Args:
      args: parsed arguments whose ``run`` is the command's function.

    Returns:
      The command's exit status: its own, or 1 (diverged, or a bug: traceback shown), 2 (bad
      input), 3 (a path that cannot be read or written), 130 (interrupted).

    >>> import argparse, contextlib, io
    >>> def bad(args):
    ...     raise OSError(2, "No such file or directory", "data.csv")
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     code = run_command(argparse.Namespace(run=bad))
    >>> code, err.getvalue()
    (3, 'jaxdl: error: No such file or directory: data.csv\\n')
    """
    with _command_signals() as signals, warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.run(args)
        except TrainingDiverged as err:
            return error(f"training diverged: the cost became NaN/inf at epoch {err.epoch} "
                         f"(global step {err.step}); lower --lr or check the scale of the data",
                         EXIT_FAILED)
        except TrainingInterrupted as err:
            hint = (f"checkpoint {err.checkpoint} written; rerun the same command with --resume "
                    "to continue" if err.checkpoint else "nothing saved (no --checkpoint-dir)")
            return error(f"interrupted by {err.signal} after epoch {err.epoch}; {hint}",
                         EXIT_INTERRUPTED, "")
        except KeyboardInterrupt:
            by = f" by {signals.received}" if signals and signals.received else ""
            saved = signals.saved if signals else "nothing saved"
            return error(f"interrupted{by}; {saved}", EXIT_INTERRUPTED, "")
        except OSError as err:
            text = err.strerror or str(err)
            if err.filename and str(err.filename) not in text:
                text += f": {err.filename}"
            return error(text, EXIT_IO)
        except (ValueError, TypeError) as err:
            if not input_error(err):
                return report_bug(err)
            return error(str(err), EXIT_USAGE)
        except Exception as err:  # noqa: BLE001 - a bug: show it, never hide it as bad input
            return report_bug(err)


def input_error(err: BaseException) -> bool:
    """True for a bad-input error: a ``raise`` statement of jaxdl's own checks raised it.

    An exception raised inside JAX, NumPy or Python itself (a wrong call, a bad index) is a
    bug, even when it is a ``ValueError`` or ``TypeError``.

    >>> from jaxdl.checks import check_positive
    >>> try:
    ...     check_positive("lr", -1.0)
    ... except ValueError as err:
    ...     input_error(err)
    True
    >>> try:
    ...     int("x")
    ... except ValueError as err:
    ...     input_error(err)
    False
    """
    tb = err.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = tb.tb_frame.f_code.co_filename
    inside = os.path.abspath(filename).startswith(PACKAGE + os.sep)
    return inside and linecache.getline(filename, tb.tb_lineno).lstrip().startswith("raise")


def report_bug(err: BaseException) -> int:
    """Print the traceback and a request to report it; exit status 1.

    >>> import contextlib, io
    >>> with contextlib.redirect_stderr(io.StringIO()) as err:
    ...     code = report_bug(KeyError("missing"))
    >>> code, "bug in jaxdl" in err.getvalue()
    (1, True)
    """
    traceback.print_exception(err, file=sys.stderr)
    print(f"{PROG}: internal error ({type(err).__name__}): this is a bug in jaxdl, not in your "
          f"input; please report it (an issue in the jaxdl repository) with the command line, "
          f"`jaxdl --version` and the traceback above",
          file=sys.stderr)
    return 1
