"""The results table a paper shows: one row per setting (the values of every swept key but ``seed``), one column
per metric, mean ± std over the setting's runs (its seeds) and their number n; as Markdown, CSV and LaTeX.
``python -m seqexp.report`` writes it (report.md, results.csv, results.tex)."""

import csv
import statistics
from dataclasses import dataclass
from pathlib import Path

from seqexp.tools.runset import Run

REPLICATE = "seed"  # runs that differ only in it are one setting


@dataclass
class Row:
    """One setting: its swept values, its runs' scores per metric (some runs may lack a metric)."""

    settings: dict[str, str]
    scores: dict[str, list[float]]
    n: int


def setting_keys(runs: list[Run], varying: list[str]) -> list[str]:
    """What the rows differ by: the swept keys but the seed; the model choice when only seeds were swept."""
    return [k for k in varying if k != REPLICATE] or ["model"]


def results(runs: list[Run], keys: list[str], metrics: list[str]) -> list[Row]:
    """One row per setting, in the order the runs first show it (the sweep's order)."""
    rows: dict[tuple, Row] = {}
    for run in runs:
        settings = {k: _value(run, k) for k in keys}
        row = rows.setdefault(tuple(settings.values()), Row(settings, {m: [] for m in metrics}, 0))
        row.n += 1
        for m in metrics:
            if m in run.result["metrics"]:
                row.scores[m].append(run.result["metrics"][m])
    return list(rows.values())


def _value(run: Run, key: str) -> str:
    if key in run.overrides:
        return run.overrides[key]
    return str(run.result["choices"].get(key, "-"))  # a group left at its default (model=lstm)


def mean_std(values: list[float]) -> tuple[float, float] | None:
    """Mean and sample std (0 for one value); None without values."""
    if not values:
        return None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def best_rows(rows: list[Row], metric: str, higher: bool) -> set[int]:
    """Indices of the rows with the best mean of ``metric`` (ties all count): set in bold, when rows compare."""
    means = {i: s[0] for i, row in enumerate(rows) if (s := mean_std(row.scores[metric]))}
    if len(means) < 2:
        return set()
    top = (max if higher else min)(means.values())
    return {i for i, m in means.items() if m == top}


def cell(values: list[float], plus_minus: str = " ± ") -> str:
    stats = mean_std(values)
    if stats is None:
        return "-"
    return f"{stats[0]:.4f}" if len(values) == 1 else f"{stats[0]:.4f}{plus_minus}{stats[1]:.4f}"


def markdown(rows: list[Row], keys: list[str], metrics: list[str], better: dict[str, bool]) -> str:
    """A Markdown table; each metric's best mean in bold."""
    bold = {m: best_rows(rows, m, better[m]) for m in metrics}
    lines = ["| " + " | ".join([*keys, *metrics, "n"]) + " |", "|" + "---|" * len(keys) + "---:|" * (len(metrics) + 1)]
    for i, row in enumerate(rows):
        cells = [cell(row.scores[m]) if i not in bold[m] else f"**{cell(row.scores[m])}**" for m in metrics]
        lines.append("| " + " | ".join([*(v.replace("|", "\\|") for v in row.settings.values()), *cells,
                                         str(row.n)]) + " |")
    return "\n".join(lines) + "\n"


def write_csv(path: Path, rows: list[Row], keys: list[str], metrics: list[str]) -> None:
    """One column per key, then ``n``, then the mean and std of each metric, as full-precision numbers."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*keys, "n", *(f"{m} {s}" for m in metrics for s in ("mean", "std"))])
        for row in rows:
            stats = [mean_std(row.scores[m]) or ("", "") for m in metrics]
            writer.writerow([*row.settings.values(), row.n, *(x for s in stats for x in s)])


TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
       "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex(text: str) -> str:
    return "".join(TEX.get(c, c) for c in text)


def latex(rows: list[Row], keys: list[str], metrics: list[str], better: dict[str, bool]) -> str:
    """A booktabs tabular (``\\usepackage{booktabs}``), each metric's best mean in bold, ready to ``\\input``."""
    bold = {m: best_rows(rows, m, better[m]) for m in metrics}

    def math(i: int, m: str) -> str:
        text = cell(rows[i].scores[m], r" \pm ")
        return "-" if text == "-" else f"$\\mathbf{{{text}}}$" if i in bold[m] else f"${text}$"

    lines = [f"\\begin{{tabular}}{{{'l' * len(keys)}{'r' * (len(metrics) + 1)}}}", r"\toprule",
             " & ".join([*map(tex, keys), *map(tex, metrics), "$n$"]) + r" \\", r"\midrule"]
    lines += [" & ".join([*map(tex, row.settings.values()), *(math(i, m) for m in metrics), str(row.n)]) + r" \\"
              for i, row in enumerate(rows)]
    return "\n".join([*lines, r"\bottomrule", r"\end{tabular}"]) + "\n"
