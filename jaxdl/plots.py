"""PNG plots of training runs: curves, decision boundaries and sweep scatters.

matplotlib is optional (``pip install jaxdl[plot]``) and imported only when a plot is drawn;
figures are built with ``matplotlib.figure.Figure``, so no pyplot state or GUI backend is used.
"""

from __future__ import annotations

import importlib.util
import math
import os
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from jaxdl.infra.atomic import atomic_write


class MissingMatplotlib(ImportError):
    """Plotting was asked for but matplotlib is not installed."""


INSTALL_HINT = "pip install jaxdl[plot]"


def available() -> bool:
    """True when matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


class Panel(NamedTuple):
    """One axes of line plots: ``series`` maps a label to ``ys`` or to a pair ``(xs, ys)``;
    earlier series are drawn on top of later ones. ``raw`` maps some labels to the unsmoothed
    values behind a smoothed series, drawn faintly in the same colour; ``markers`` marks each
    point (for a few measured values)."""

    title: str
    series: Mapping[str, Any]
    xlabel: str = "epoch"
    ylabel: str = "cost"
    logy: bool = False
    logx: bool = False
    ylim: tuple[float, float] | None = None
    raw: Mapping[str, Any] | None = None
    markers: bool = False


class Boundary(NamedTuple):
    """One decision-boundary panel: ``predict`` maps points ``(n, 2)`` to P(class 1) ``(n,)``;
    ``note`` is a second title line (e.g. why a panel is flat)."""

    title: str
    predict: Callable[[np.ndarray], np.ndarray]
    x: np.ndarray
    y: np.ndarray
    note: str | None = None


def figure(panels: int, width: float = 4.5, height: float = 3.6) -> tuple[Any, list[Any]]:
    """A figure with ``panels`` axes (up to 3 per row); a clear error without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise MissingMatplotlib(
            f"plotting needs matplotlib, which is not installed; install it with "
            f"`{INSTALL_HINT}`"
        ) from err
    cols = min(panels, 3)
    rows = math.ceil(panels / cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[panels:]:
        ax.set_visible(False)
    return fig, axes[:panels]


# Characters of an average line per inch of width: medium (10 pt) axes titles, large (12 pt)
# figure titles; a little under what DejaVu Sans measures, so a wrapped line fits.
CHARS_PER_INCH = {"medium": 13.0, "large": 11.0}


def wrap(text: str, inches: float, size: str = "medium") -> str:
    """``text`` with each line wrapped to about ``inches`` of a ``size`` font ("medium" or
    "large"), the words spread evenly over the lines it needs (no line of one short word).

    >>> print(wrap("a title that is a little too long for one line", 2.5))
    a title that is a little
    too long for one line
    """
    if size not in CHARS_PER_INCH:
        raise ValueError(f"size must be one of {sorted(CHARS_PER_INCH)}, got {size!r}")

    def lines(line: str, width: int) -> list[str]:
        return textwrap.wrap(line, width, break_on_hyphens=False) or [""]

    out = []
    for line in text.split("\n"):
        width = max(25, int(inches * CHARS_PER_INCH[size]))
        parts = lines(line, width)
        # The narrowest width that still needs as many lines balances them.
        while width > 1 and len(parts) > 1 and len(lines(line, width - 1)) == len(parts):
            width -= 1
            parts = lines(line, width)
        out.extend(parts)
    return "\n".join(out)


def suptitle(fig: Any, title: str | None) -> None:
    """The figure's title, each line wrapped to the figure's width."""
    if title:
        fig.suptitle(wrap(title, fig.get_figwidth(), "large"))


def log_labels(ax: Any) -> None:
    """Tick labels of a log x axis that do not run together: on an axis spanning two decades or
    more, the powers of ten only; on a narrower one, ticks at 1, 2 and 5 times a power of ten,
    written plainly (``0.002``). Matplotlib's own choice also labels some of the 2x, 3x, ...
    ticks between, and those labels overlap."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    low, high = ax.get_xlim()
    if low <= 0:
        return
    ax.xaxis.set_minor_formatter(NullFormatter())
    if high / low < 100:
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))


def save(fig: Any, path: str | os.PathLike, dpi: int = 100) -> str:
    """Write ``fig`` to ``path`` atomically, in the format its extension names (PNG default)."""
    fmt = os.path.splitext(os.fspath(path))[1].lstrip(".") or "png"
    return atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi), mode="wb")


def _xy(values: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(values, tuple) and len(values) == 2:
        xs, ys = values
    else:
        ys = values
        xs = np.arange(len(ys))
    return np.asarray(xs), np.asarray(ys, dtype=float)


def _legend(fig: Any, axes: Sequence[Any], labels: Sequence[Sequence[str]]) -> None:
    """Legends outside the data: one row under the figure when every panel shows the same
    labels, otherwise one legend to the right of each axes."""
    if len({tuple(group) for group in labels}) == 1:
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 6),
                   fontsize="small", frameon=False)
        return
    for ax in axes:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  frameon=False)


def lines(path: str, panels: Sequence[Panel], title: str | None = None) -> str:
    """Save line plots (one axes per :class:`Panel`) to ``path``; returns ``path``.

    Every axes has labels; legends sit outside the data (see :func:`_legend`).
    """
    fig, axes = figure(len(panels), width=6.4 if len(panels) == 1 else 4.5)
    for ax, panel in zip(axes, panels):
        raw = panel.raw or {}
        for i, (label, values) in enumerate(panel.series.items()):
            xs, ys = _xy(values)
            order = len(panel.series) - i + 2
            (line,) = ax.plot(xs, ys, label=label, linewidth=1.2, zorder=order + len(raw),
                              marker="o" if panel.markers else None, markersize=4)
            if label in raw:
                xs_raw, ys_raw = _xy(raw[label])
                faint = 0.25 if len(ys_raw) < 1000 else 0.1  # a dense series stays see-through
                ax.plot(xs_raw, ys_raw, color=line.get_color(), alpha=faint, linewidth=0.5,
                        zorder=order)
        inches = fig.get_figwidth() / min(len(panels), 3)
        ax.set_title(wrap(panel.title, inches), fontsize="medium")
        ax.set(xlabel=panel.xlabel, ylabel=panel.ylabel)
        if panel.logy:
            ax.set_yscale("log")
        if panel.logx:
            ax.set_xscale("log")
        if panel.ylim is not None:
            ax.set_ylim(*panel.ylim)
        ax.grid(alpha=0.3)
    _legend(fig, axes, [list(panel.series) for panel in panels])
    suptitle(fig, title)
    save(fig, path)
    return path


def boundaries(
    path: str, panels: Sequence[Boundary], title: str | None = None, resolution: int = 200
) -> str:
    """Save decision boundaries: P(class 1) over a grid around the points (a colour bar),
    the 0.5 contour, the training points with a class legend, and each panel's note."""
    fig, axes = figure(len(panels), width=4.0, height=4.0)
    from matplotlib.lines import Line2D  # matplotlib is there: figure() checked

    filled = None
    for ax, panel in zip(axes, panels):
        x = np.asarray(panel.x, dtype=np.float64)
        low, high = x.min(axis=0), x.max(axis=0)
        pad = 0.1 * (high - low) + 1e-9
        g0, g1 = np.meshgrid(
            np.linspace(low[0] - pad[0], high[0] + pad[0], resolution),
            np.linspace(low[1] - pad[1], high[1] + pad[1], resolution),
        )
        grid = np.stack([g0.ravel(), g1.ravel()], axis=1).astype(np.float32)
        prob = np.asarray(panel.predict(grid), dtype=np.float64).reshape(g0.shape)
        filled = ax.contourf(g0, g1, prob, levels=np.linspace(0, 1, 11), cmap="RdBu",
                             alpha=0.6, vmin=0.0, vmax=1.0)
        if prob.min() < 0.5 < prob.max():
            ax.contour(g0, g1, prob, levels=[0.5], colors="k", linewidths=1.0)
        labels = np.asarray(panel.y).reshape(-1)
        for cls, color, marker in ((0, "#b2182b", "o"), (1, "#2166ac", "s")):
            chosen = labels == cls
            ax.scatter(x[chosen, 0], x[chosen, 1], color=color, marker=marker,
                       edgecolors="k", linewidths=0.4, s=14, label=f"class {cls}")
        heading = panel.title + (f"\n{panel.note}" if panel.note else "")
        ax.set_title(wrap(heading, fig.get_figwidth() / min(len(panels), 3)), fontsize="medium")
        ax.set(xlabel="x1", ylabel="x2")
    handles, names = axes[0].get_legend_handles_labels()
    handles.append(Line2D([], [], color="k", linewidth=1.0))
    names.append("decision boundary P = 0.5")
    fig.legend(handles, names, loc="outside lower center", ncols=3, fontsize="small",
               frameon=False)
    fig.colorbar(filled, ax=axes, label="P(class 1)", shrink=0.8)
    suptitle(fig, title)
    save(fig, path)
    return path


def scatter(
    path: str,
    x: Sequence[float],
    y: Sequence[float],
    value: Sequence[float],
    *,
    xlabel: str,
    ylabel: str,
    label: str,
    title: str | None = None,
    logx: bool = True,
    logy: bool = True,
    best: int | None = None,
    best_label: str = "best",
) -> str:
    """Save a scatter of ``(x, y)`` coloured by ``value`` (log axes by default); ``best`` marks
    one point, named ``best_label`` in the legend (say what it is best by, e.g.
    ``"best val_loss"``)."""
    fig, (ax,) = figure(1, width=5.5, height=4.2)
    points = ax.scatter(np.asarray(x), np.asarray(y), c=np.asarray(value, dtype=float),
                        cmap="viridis", edgecolors="k", linewidths=0.4, s=40)
    fig.colorbar(points, ax=ax, label=label)
    if best is not None:
        ax.scatter([x[best]], [y[best]], marker="*", s=260, facecolors="none",
                   edgecolors="r", linewidths=1.5, label=best_label)
        fig.legend(loc="outside lower center", fontsize="small", frameon=False)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.set_title(wrap(title or "", fig.get_figwidth()), fontsize="medium")
    ax.grid(alpha=0.3)
    save(fig, path)
    return path
