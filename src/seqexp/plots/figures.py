"""Figures drawn by Agg outside pyplot, from plain numbers (rows of a CSV, a matrix), so that each can be tested on
known input and drawn where there is no display: the run page's, the sweep report's and ``seqexp.inspect``'s."""

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def new_figure(width: float = 8, height: float = 5, ncols: int = 1) -> tuple[Figure, Axes | np.ndarray]:
    """A figure drawn by Agg, outside pyplot: no display needed, and no figure is left open in a registry."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(1, ncols)


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi)
    return buffer.getvalue()


def pixels(fig: Figure) -> np.ndarray:
    """The drawn figure as ``[H, W, 3]`` uint8, as W&B and TensorBoard take images."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


LIGHT_TO_DARK = ("Blues", "Greys", "Greens", "Reds")
"""Colour maps whose high values are dark (viridis and most others go the other way)."""


def heatmap(matrix: Sequence[Sequence[float]], rows: list[str], columns: list[str], title: str, xlabel: str = "",
            ylabel: str = "", cmap: str = "viridis", vmin: float | None = None, vmax: float | None = None,
            numbers: bool = False) -> Figure:
    """``matrix [len(rows), len(columns)]`` as coloured cells, row 0 on top, one tick per label (the cells of a
    confusion matrix, an attention alignment, hidden units by token); ``numbers`` writes each cell's value."""
    values = np.asarray(matrix, dtype=float)  # [R, C]
    width = min(16.0, 3 + 0.35 * len(columns))
    fig, ax = new_figure(width, min(16.0, 2 + 0.3 * len(rows)))
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(columns)), columns, rotation=60, ha="right", fontsize="small")
    ax.set_yticks(range(len(rows)), rows, fontsize="small")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if numbers:
        low, high = image.get_clim()
        for (i, j), value in np.ndenumerate(values):  # light text on the dark half of the colour scale
            dark = (value - low) / ((high - low) or 1) > 0.5
            ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize="x-small",
                    color=("white" if dark else "black") if cmap in LIGHT_TO_DARK else ("black" if dark else "white"))
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def learning_curves(rows: list[dict[str, str]], monitor: str, epochs: int, higher_is_better: bool) -> Figure | None:
    """Lightning's csv/metrics.csv rows -> two panels against the training step: the losses (train per step and per
    epoch, val per epoch) and the monitored val metric with its best epoch marked; None with no training row.
    Rows of epoch >= ``epochs`` are the scoring of the best checkpoint after fitting, not training."""
    series: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        if not row.get("step") or not row.get("epoch") or int(row["epoch"]) >= epochs:
            continue
        for key in ("train/loss_step", "train/loss_epoch", "train/loss", "val/loss", monitor):
            if row.get(key):
                series.setdefault(key, []).append((int(row["step"]), float(row[key])))
    if not series:
        return None
    fig, (losses, score) = new_figure(11, 4, ncols=2)
    for key, style in (("train/loss_step", dict(alpha=0.3, lw=0.8)), ("train/loss", dict(alpha=0.3, lw=0.8)),
                       ("train/loss_epoch", dict(marker=".")), ("val/loss", dict(marker="o"))):
        if key in series:
            losses.plot(*zip(*series[key], strict=True), label=key, **style)
    losses.set(xlabel="training step", ylabel="loss", title="losses")
    losses.legend(fontsize="small")
    if monitor in series:
        steps, values = zip(*series[monitor], strict=True)
        score.plot(steps, values, marker="o", color="tab:green", label=monitor)
        best = int(np.argmax(values) if higher_is_better else np.argmin(values))
        score.axvline(steps[best], color="grey", ls=":", label=f"best: {values[best]:.4g} (kept checkpoint)")
        score.legend(fontsize="small")
    score.set(xlabel="training step", ylabel=monitor, title=f"{monitor} (validation)")
    for ax in (losses, score):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def type_bars(scores: dict[str, dict[str, float]], title: str) -> Figure:
    """Per type (an entity type, a class), grouped bars of its precision, recall and F1."""
    fig, ax = new_figure(max(6.0, 1.2 * len(scores) + 2), 4)
    names = list(scores)
    width = 0.27
    for k, metric in enumerate(("precision", "recall", "f1")):
        ax.bar([i + (k - 1) * width for i in range(len(names))], [scores[n].get(metric, 0.0) for n in names],
               width, label=metric)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set(ylim=(0, 1), ylabel="score", title=title)
    ax.legend(fontsize="small")
    return fig


GRAD_FLOW_COLUMNS = ("step", "layer", "direction", "distance", "norm")
"""grad_flow.csv's columns (seqexp.run.gradflow writes it)."""


def read_grad_flow(path: Path) -> list[list[float]]:
    """``grad_flow.csv`` as rows of numbers (GRAD_FLOW_COLUMNS)."""
    with path.open(newline="") as f:
        return [[float(v) for v in row] for row in list(csv.reader(f))[1:]]


def grad_flow_curves(rows: list[list[float]], step: int | None = None
                     ) -> dict[tuple[int, int], list[tuple[int, float]]]:
    """(layer, direction) -> [(distance, norm)] at measured ``step`` (None: the last one measured)."""
    step = max(r[0] for r in rows) if step is None else step
    found: dict[tuple[int, int], list[tuple[int, float]]] = {}
    for s, layer, direction, distance, norm in rows:
        if s == step:
            found.setdefault((int(layer), int(direction)), []).append((int(distance), norm))
    return found


def grad_flow(rows: list[list[float]]) -> Figure:
    """One run's dL/dh_t by distance from the last step, one line per measured step (colour), layer (dashes) and
    direction (dots), log scale."""
    fig, ax = new_figure()
    steps = sorted({int(r[0]) for r in rows})
    colours = matplotlib.colormaps["viridis"]
    for i, step in enumerate(steps):
        for (layer, direction), curve in grad_flow_curves(rows, step).items():
            ax.plot(*zip(*curve, strict=True), ":" if direction else "-" if layer == 0 else "--",
                    color=colours(i / max(1, len(steps) - 1)),
                    label=f"step {step}" + (f", layer {layer}" if layer else "") + (", reverse" * direction))
    finish_grad_flow(ax, "dL/dh_t by distance from the last step, at each measured training step")
    return fig


def finish_grad_flow(ax: Axes, title: str) -> None:
    ax.set(xlabel="distance from the last step (steps back in time)", ylabel="mean ||dL/dh_t||", yscale="log",
           title=title)
    if ax.lines:
        ax.legend(fontsize="small")
