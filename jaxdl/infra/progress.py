"""Progress of a training run, one update per epoch: a bar on a terminal or in a notebook
(``tqdm.auto``), plain lines in a log.

>>> import io
>>> log = io.StringIO()
>>> progress = Progress(total=4, show=True, stream=log, every=2)
>>> for epoch in range(4):
...     progress.update(epoch, {"loss": 1.0 / (epoch + 1)})
>>> progress.close()
>>> print(log.getvalue(), end="")
epoch 2/4: loss 0.5000
epoch 4/4: loss 0.2500
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import IO, Any

from tqdm.auto import tqdm

LOG_LINES = 10  # a log gets about this many progress lines per run


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where stderr is no terminal but a bar still works)."""
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return get is not None and get() is not None and "ipykernel" in sys.modules


class Progress:
    """Show ``total`` epochs (starting after ``initial`` done ones, on resume).

    ``show=None`` shows progress when ``stream`` (default stderr) is a terminal. Shown on a
    terminal or in a notebook it is a ``tqdm.auto`` bar counting epochs; otherwise (a log file,
    CI) it writes a line ``epoch e/total: metrics`` every ``every`` epochs (default: about
    :data:`LOG_LINES` lines per run) and at the last epoch.

    Args:
        total: the number of epochs of the run.
        initial: epochs done before this process started (a resumed run).
        show: show progress; ``None`` shows it on a terminal only.
        stream: where to write (default ``sys.stderr``).
        every: epochs between log lines; ``None`` gives about :data:`LOG_LINES` lines.

    Examples:
        >>> import io
        >>> log = io.StringIO()
        >>> with Progress(total=2, show=True, stream=log) as progress:
        ...     for epoch in range(2):
        ...         progress.update(epoch, {"loss": 0.5 / (epoch + 1), "val_loss": 0.75})
        >>> print(log.getvalue(), end="")
        epoch 1/2: loss 0.5000, val_loss 0.7500
        epoch 2/2: loss 0.2500, val_loss 0.7500
    """

    def __init__(
        self,
        total: int,
        *,
        initial: int = 0,
        show: bool | None = None,
        stream: IO[str] | None = None,
        every: int | None = None,
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.show = terminal if show is None else bool(show)
        self.total, self.every = total, every or max(1, round(total / LOG_LINES))
        self.bar = None
        if self.show and (terminal or in_notebook()):
            self.bar = tqdm(total=total, initial=initial, unit="epoch", file=self.stream)

    def update(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Epoch ``epoch`` (0-based) finished with ``metrics``."""
        if not self.show:
            return
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in metrics.items()}, refresh=False)
            self.bar.update(1)
            return
        done = epoch + 1
        if done % self.every == 0 or done == self.total:
            values = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
            print(f"epoch {done}/{self.total}: {values}", file=self.stream, flush=True)

    def close(self) -> None:
        """Close the bar (nothing to do for log lines)."""
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
