"""The memory horizon: a memory task's test score against its delay (``data.length``), one line per cell, with the
memoryless baseline: the picture that answers "how far back can each cell remember?". ``python -m seqexp.report``
draws it (``horizon.png``) for any set of runs that swept ``data.length``."""

from matplotlib.figure import Figure

from seqexp.plots.figures import new_figure
from seqexp.tools import results
from seqexp.tools.runset import Run

DELAY = "data.length"


def baseline_of(metric: str) -> str:
    """``test/acc`` -> ``test/baseline_acc``: what a head logs as the score of a model without memory."""
    split, _, name = metric.partition("/")
    return f"{split}/baseline_{name}"


def horizon(runs: list[Run], keys: list[str], metric: str
            ) -> tuple[dict[str, list[tuple[int, float, float]]], list[tuple[int, float]]]:
    """``keys``: the swept keys but the seed, ``data.length`` among them. Returns per setting of the other keys
    (labelled ``model=gru model.init=chrono``) its (delay, mean, std) points in delay order, and the baseline's
    (delay, mean) points where runs logged it."""
    others = [k for k in keys if k != DELAY]
    lines: dict[str, list[tuple[int, float, float]]] = {}
    baseline: dict[int, list[float]] = {}
    for row in results.results(runs, keys, [metric, baseline_of(metric)]):
        delay = int(row.settings[DELAY])
        label = " ".join(f"{k}={row.settings[k]}" for k in others if row.settings[k] != "-") or metric  # "-": unset
        if stats := results.mean_std(row.scores[metric]):
            lines.setdefault(label, []).append((delay, *stats))
        baseline.setdefault(delay, []).extend(row.scores[baseline_of(metric)])
    chance = sorted((d, sum(v) / len(v)) for d, v in baseline.items() if v)
    return {label: sorted(points) for label, points in lines.items()}, chance


def plot_horizon(runs: list[Run], keys: list[str], metric: str) -> Figure | None:
    """The horizon picture, or None when the runs did not sweep ``data.length`` over two values or more."""
    if DELAY not in keys:
        return None
    lines, chance = horizon(runs, keys, metric)
    fig, ax = new_figure()
    for label, points in lines.items():
        delays, means, stds = zip(*points, strict=True)
        ax.errorbar(delays, means, yerr=stds, marker="o", capsize=4, label=label)
    if chance:
        ax.plot(*zip(*chance, strict=True), "k--", label="memoryless baseline")
    ax.set(xscale="log", xlabel="delay (data.length, steps)", ylabel=metric,
           title=f"{metric} against the delay to remember across (mean ± std over seeds)")
    ax.set_xticks(sorted({d for points in lines.values() for d, _, _ in points}))
    ax.get_xaxis().set_major_formatter("{x:.0f}")
    ax.get_xaxis().set_minor_formatter("")  # the log axis labels only the delays run
    ax.legend(fontsize="small")
    return fig
