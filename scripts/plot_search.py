"""The search benchmark as a figure: best validation accuracy against wall time, per task.

    python scripts/plot_search.py OUT.png TITLE=search.json [TITLE=search_small.json ...]

Reads reports of ``scripts/bench_search.py --json`` (with Optuna installed). Each panel is one
task: a point per strategy, Optuna's TPE as a star, and the target region shaded (within one
binomial standard error of Optuna's best validation accuracy, in at most half its wall time).
The panel title names the strategy that reached the target fastest, or by how much the target
was missed.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from matplotlib.figure import Figure

from jaxdl import plots

LABEL_OFFSETS = (4, -14, 18, -28, 32)  # points above the marker, tried in turn
CHAR_WIDTH = 0.016  # a 9-point character, as a fraction of one panel's axes width
LEADER = {"arrowstyle": "-", "lw": 0.5, "color": "0.5", "shrinkA": 0, "shrinkB": 4}


def finding(report: dict[str, Any]) -> str:
    """One line: who met the target and how fast, or the nearest miss."""
    target, rows = report["target"], report["strategies"]
    optuna = rows["optuna_tpe"]
    ratios = {name: row["time_ratio"] for name, row in target["strategies"].items()}
    if target["met_by"]:
        name = min(target["met_by"], key=lambda n: ratios[n])
        return (f"{name}: {rows[name]['best_val_accuracy']:.3f} (Optuna "
                f"{optuna['best_val_accuracy']:.3f}) in {ratios[name]:.2f}x its time: target met")
    within = [n for n, r in target["strategies"].items() if r["within_noise"]]
    if not within:
        return "no strategy came within noise of Optuna's best: target missed"
    name = min(within, key=lambda n: ratios[n])
    return (f"fastest within noise: {name} in {ratios[name]:.2f}x Optuna's time "
            f"(target 0.5x): missed")


def draw(reports: list[tuple[str, dict[str, Any]]], path: str) -> None:
    """One panel per ``(title, report)``, written atomically to ``path``."""
    fig = Figure(figsize=(6.2 * len(reports), 5.0), layout="constrained")
    axes = fig.subplots(1, len(reports), squeeze=False)[0]
    for ax, (title, report) in zip(axes, reports):
        rows, target = report["strategies"], report["target"]
        optuna = rows["optuna_tpe"]
        best, noise = optuna["best_val_accuracy"], target["noise"]
        top = max(r["best_val_accuracy"] for r in rows.values()) + 2 * noise
        ax.fill_between([0, 0.5 * optuna["wall_s"]], best - noise, top, color="tab:green",
                        alpha=0.15, label="target: Optuna's best within noise, half its time")
        low = min(r["best_val_accuracy"] for r in rows.values()) - 2 * noise
        right = 1.15 * max(r["wall_s"] for r in rows.values())
        ax.set_ylim(low, top)
        ax.set_xlim(0, right)
        placed: list[tuple[float, float, float]] = []  # label x, y and width, axes fractions
        for name, row in sorted(rows.items(), key=lambda item: item[1]["wall_s"]):
            is_optuna = name == "optuna_tpe"
            x, y = row["wall_s"], row["best_val_accuracy"]
            ax.scatter(x, y, s=140 if is_optuna else 60, marker="*" if is_optuna else "o",
                       color="tab:red" if is_optuna else "tab:blue", zorder=3)
            label = "Optuna TPE" if is_optuna else name
            fx, fy = x / right + 0.02, (y - low) / (top - low)  # where the label starts
            width = CHAR_WIDTH * len(label)
            for dy in LABEL_OFFSETS:  # the first offset whose label clears the placed ones
                ly = fy + dy / 360
                if all(fx > px + pw or fx + width < px or abs(ly - py) > 0.05
                       for px, py, pw in placed):  # fmt: skip
                    break
            placed.append((fx, ly, width))
            ax.annotate(label, (x, y), textcoords="offset points",
                        xytext=(7, dy - 3), fontsize=9,
                        arrowprops=None if dy == LABEL_OFFSETS[0] else LEADER)
        ax.set_xlabel("wall time, compilation included (s)")
        ax.set_ylabel("best validation accuracy")
        ax.set_title(f"{title}\n{finding(report)}", fontsize=10)
        ax.legend(loc="lower right", fontsize=8)
        ax.grid(alpha=0.3)
    plots.suptitle(fig, "Search strategies at one epoch budget against Optuna's TPE (2 CPU cores)")
    plots.save(fig, path, dpi=110)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or any("=" not in a for a in argv[1:]):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    reports = []
    for arg in argv[1:]:
        title, path = arg.split("=", 1)
        with open(path) as f:
            reports.append((title, json.load(f)))
    draw(reports, argv[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
