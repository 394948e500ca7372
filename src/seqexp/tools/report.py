"""``python -m seqexp.report DIR [DIR ...]``: compare finished runs side by side, offline, without W&B.

Writes into ``out=`` (default: the first DIR) ``report.html`` (seqexp.tools.sweep_page: the tables and figures on
one page; a run's folder keeps its run page instead), ``report.md`` (runs sorted by the metric, best first, and the
results by setting), ``report.csv`` (the same runs, every metric), ``results.csv`` and ``results.tex`` (rows =
settings, the values of every swept key but the seed; columns = metrics, mean ± std over the seeds, n: see
seqexp.tools.results), ``val_curves.png`` (each run's monitored validation metric by epoch) and
``final_by_setting.png`` (the metric per setting, mean and std), ``grad_flow.png`` when runs measured it
(callbacks.grad_flow): each run's dL/dh_t by distance from the last step, overlaid, and ``horizon.png`` when they
swept ``data.length`` (seqexp.tools.horizon). Each finished run's page (seqexp.run.page) is drawn again.
"""

import csv
import importlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from omegaconf import OmegaConf

from seqexp.errors import ConfigError
from seqexp.plots.figures import finish_grad_flow, grad_flow_curves, new_figure, read_grad_flow
from seqexp.run import page
from seqexp.run.checkpoints import upgrade
from seqexp.run.cli import parse, run_cli
from seqexp.run.rundir import RunDir
from seqexp.tasks.base import SeqTask
from seqexp.tasks.metrics import headline
from seqexp.tools import results, sweep_page
from seqexp.tools.horizon import plot_horizon
from seqexp.tools.runset import Run, collect_runs, label, varying

log = logging.getLogger(__name__)


def _higher_is_better(runs: list[Run], metric: str) -> bool:
    """Which way ``metric`` is better, as the runs' metrics.json says (``directions``), or for runs written before it
    said, as their head declares (``SeqTask.better``); else lower for a loss, higher for the rest."""
    for run in runs:
        way = run.result.get("directions", {}).get(metric) or _head_direction(run.path, metric)
        if way is not None:
            return way == "max"
    return SeqTask.direction(metric) != "min"


def _head_direction(path: Path, metric: str) -> str | None:
    """The direction the run's head (``task._target_`` in its .hydra/config.yaml) declares for ``metric``."""
    config = RunDir(path).config
    target = upgrade(OmegaConf.to_container(OmegaConf.load(config))).get("task", {}).get("_target_") \
        if config.is_file() else None
    module, _, name = str(target).rpartition(".")
    if not module.startswith("seqexp.tasks."):  # import only our own heads, never what a config names
        return None
    try:
        head = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return head.direction(metric) if isinstance(head, type) and issubclass(head, SeqTask) else None


def runs_table(runs: list[Run], metric: str) -> tuple[list[str], list[dict]]:
    """Columns and one row per finished run, best ``metric`` first; runs without the metric go last."""
    keys = varying(runs)
    metric_keys = sorted({k for r in runs for k in r.result["metrics"]})
    columns = ["run", *keys, "epochs", "seconds", *metric_keys]
    higher = _higher_is_better(runs, metric)

    def rank(run: Run) -> tuple[bool, float]:
        value = run.result["metrics"].get(metric)
        if value is None:
            return True, 0.0
        return False, -value if higher else value

    rows = [{"run": r.name, **{k: r.overrides.get(k) for k in keys}, "epochs": r.result["epochs"],
             "seconds": r.result["seconds"], **r.result["metrics"]} for r in sorted(runs, key=rank)]
    return columns, rows


def _results_columns(runs: list[Run], metric: str) -> list[str]:
    """The results table's metrics: ``metric`` first, then the other scores of its split (losses and per-type
    scores stay in report.csv)."""
    split = metric.partition("/")[0]
    found = sorted({k for r in runs for k in r.result["metrics"]
                    if headline(k) and k.startswith(f"{split}/") and "loss" not in k})
    return [metric, *(m for m in found if m != metric)]


def _results(runs: list[Run], metrics: list[str]) -> tuple[list[str], list[results.Row], dict[str, bool]]:
    keys = results.setting_keys(runs, varying(runs))
    return keys, results.results(runs, keys, metrics), {m: _higher_is_better(runs, m) for m in metrics}


def _markdown(columns: list[str], rows: list[dict], runs: list[Run], failed: list[Run], metric: str,
              metrics: list[str]) -> str:
    """report.md: the readable columns of the runs table, the results by setting, and the runs that failed."""
    metric_keys = {k for r in runs for k in r.result["metrics"]}  # not by "/": group overrides have one too
    shown = [c for c in columns if c not in metric_keys or headline(c)]

    def cell(column: str, value: object) -> str:
        if value is None:
            return "-"
        return f"{value:.4f}" if column in metric_keys else str(value).replace("|", "\\|")

    lines = [f"# Runs by {metric}", "", f"{len(rows)} finished runs, best {metric} first.", "",
             "| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
    lines += ["| " + " | ".join(cell(c, row.get(c)) for c in shown) + " |" for row in rows]
    keys, table, better = _results(runs, metrics)
    lines += ["", "## Results by setting", "", f"Mean ± std over the runs of each setting ({', '.join(keys)}); "
              "best in bold (results.csv, results.tex).", "", results.markdown(table, keys, metrics, better).rstrip()]
    if failed:
        keys = varying(runs + failed)
        lines += ["", f"## Failed or unfinished ({len(failed)})", ""]
        lines += [f"- `{r.name}`: {label(r, keys)}" for r in failed]
    return "\n".join(lines) + "\n"


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)


def _val_curve(run: Run) -> dict[int, float]:
    """The monitored metric per training epoch, from Lightning's csv/metrics.csv ({} without a CSV logger).

    The validation of the best checkpoint after fitting is logged at epoch == epochs: not a training epoch.
    """
    path = RunDir(run.path).curves
    if not path.is_file():
        return {}
    monitor, epochs = run.result["monitor"], run.result["epochs"]
    curve = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row.get(monitor) and row.get("epoch") and int(row["epoch"]) < epochs:
                curve[int(row["epoch"])] = float(row[monitor])  # a resumed run re-logs epochs: the last counts
    return curve


def plot_curves(runs: list[Run]) -> Figure:
    """One line per run: its monitored validation metric by epoch, labelled by what differs between runs."""
    fig, ax = new_figure()
    keys = varying(runs)
    for run in runs:
        curve = _val_curve(run)
        if not curve:
            log.info("%s: no csv/metrics.csv with %s, left out of the curves", run.name, run.result["monitor"])
            continue
        ax.plot(list(curve), list(curve.values()), marker="o", label=label(run, keys))
    monitors = sorted({r.result["monitor"] for r in runs})
    ax.set(xlabel="epoch", ylabel=", ".join(monitors), title=f"{', '.join(monitors)} by epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if ax.lines:
        ax.legend(fontsize="small")
    return fig


def plot_final(runs: list[Run], metric: str) -> Figure:
    """A bar per setting: the metric's mean over its runs (its seeds), with the std as error bar."""
    fig, ax = new_figure()
    keys, table, _ = _results(runs, [metric])
    table = [row for row in table if row.scores[metric]]
    stats = [results.mean_std(row.scores[metric]) for row in table]
    labels = [" ".join(row.settings.values()) + f"\n(n={len(row.scores[metric])})" for row in table]
    ax.bar(labels, [m for m, _ in stats], yerr=[s for _, s in stats], capsize=6)
    ax.set(xlabel=" ".join(keys), ylabel=metric, title=f"{metric} by setting (mean ± std over runs)")
    return fig


def plot_grad_flow(runs: list[Run]) -> Figure | None:
    """One line per run that measured it (grad_flow.csv): mean ||dL/dh_t|| by distance from the last step at the
    run's last measurement, first layer, forward direction, log scale; None when no run measured it. A sweep over
    model=rnn,lstm,gru shows the vanishing gradient at a glance: the RNN's line falls by orders of magnitude."""
    measured = [r for r in runs if RunDir(r.path).grad_flow.is_file()]
    if not measured:
        return None
    fig, ax = new_figure()
    keys = varying(runs)
    for run in measured:
        rows = read_grad_flow(RunDir(run.path).grad_flow)
        if rows:
            step = int(max(r[0] for r in rows))
            ax.plot(*zip(*grad_flow_curves(rows, step)[0, 0], strict=True), label=f"{label(run, keys)} (step {step})")
    finish_grad_flow(ax, "dL/dh_t by distance from the last step, each run's last measurement")
    return fig


def write_results(out: Path, runs: list[Run], metrics: list[str]) -> None:
    """results.csv and results.tex: the results by setting, as report.md shows them."""
    keys, table, better = _results(runs, metrics)
    results.write_csv(out / "results.csv", table, keys, metrics)
    (out / "results.tex").write_text(results.latex(table, keys, metrics, better))


def _default_metric(runs: list[Run]) -> str:
    """The test counterpart of the monitored key (val/acc -> test/acc), the key the runs were tuned on."""
    monitor = Counter(r.result["monitor"] for r in runs).most_common(1)[0][0]
    return "test/" + monitor.removeprefix("val/")


@dataclass
class Options:
    dirs: list[str] = field(default_factory=list)  # run, sweep or outputs directories (bare words)
    out: str | None = None  # where to write the report (default: the first DIR)
    metric: str | None = None  # metric to rank and summarise by (default: test counterpart of the monitor)
    columns: list[str] | None = None  # the results table's metrics (default: the metric, then its split's others)


def report(argv: list[str]) -> Path:
    """Collect the runs under the DIRs and write the report; returns the report.md path."""
    args, _ = parse(argv, Options, positional="dirs")
    if not args.dirs:
        raise ConfigError("which runs? python -m seqexp.report DIR [DIR ...] (run, sweep or outputs directories)")
    dirs = [Path(d) for d in args.dirs]
    runs = collect_runs(dirs)
    finished = [r for r in runs if r.result is not None]
    failed = [r for r in runs if r.result is None]
    where = ", ".join(str(d) for d in dirs)
    if not finished:
        raise ConfigError(f"no finished run (a directory with metrics.json) under {where}")
    metric = args.metric or _default_metric(finished)
    if not any(metric in r.result["metrics"] for r in finished):
        known = sorted({k for r in finished for k in r.result["metrics"]})
        raise ConfigError(f"no run under {where} has metric {metric!r}; they have {', '.join(known)}")
    log.info("%d finished runs, %d failed or unfinished, under %s", len(finished), len(failed), where)

    out = Path(args.out) if args.out else dirs[0]
    out.mkdir(parents=True, exist_ok=True)
    columns, rows = runs_table(finished, metric)
    metrics = args.columns or _results_columns(finished, metric)
    for column in metrics:
        if not any(column in r.result["metrics"] for r in finished):
            raise ConfigError(f"columns: no run under {where} has metric {column!r}")
    (out / "report.md").write_text(_markdown(columns, rows, finished, failed, metric, metrics))
    _write_csv(out / "report.csv", columns, rows)
    write_results(out, finished, metrics)
    figures = {"val_curves": plot_curves(finished), "final_by_setting": plot_final(finished, metric),
               "grad_flow": plot_grad_flow(finished),
               "horizon": plot_horizon(finished, results.setting_keys(finished, varying(finished)), metric)}
    figures = {name: fig for name, fig in figures.items() if fig is not None}
    for name, fig in figures.items():
        fig.savefig(out / f"{name}.png")
    if not RunDir(out).finished():  # a run's folder keeps its run page as report.html
        metric_keys = {k for r in finished for k in r.result["metrics"]}
        keys, table, _ = _results(finished, metrics)
        sweep_page.write(out, metric, [c for c in columns if c not in metric_keys or headline(c)], rows, table,
                         keys, metrics, figures, [r.name for r in failed])
    for run in finished:  # each run's own page, drawn again from its files (pages of older runs included)
        page.write(RunDir(run.path), run.result)
    log.info("wrote report.html, report.csv, results.csv, results.tex, %s and each run's report.html to %s",
             ", ".join(f"{name}.png" for name in figures), out)
    print(out / "report.md")
    return out / "report.md"


def main(argv: list[str] | None = None) -> int:
    """``python -m seqexp.report``: 0, or 2 with one line when there is nothing to report on."""
    return run_cli(report, argv, plain=True)
