"""report.html for a sweep: the runs table, the results by setting and the report's figures on one self-contained
page (seqexp.plots.html), beside report.md; each finished run below has its own run page (seqexp.run.page)."""

from pathlib import Path

from matplotlib.figure import Figure

from seqexp.plots.html import Page
from seqexp.tools import results


def write(out: Path, metric: str, columns: list[str], rows: list[dict], table: list[results.Row], keys: list[str],
          metrics: list[str], figures: dict[str, Figure], failed: list[str]) -> Path:
    """``columns``/``rows``: the runs, best ``metric`` first (report.runs_table, readable columns only);
    ``table``: the results by setting over ``keys``, mean ± std of ``metrics``; ``failed``: unfinished runs."""
    page = Page(f"seqexp report: {len(rows)} runs by {metric}")
    page.heading("Runs, best first")
    page.table(columns, [["-" if row.get(c) is None else row[c] for c in columns] for row in rows])
    page.heading("Results by setting (mean ± std over each setting's runs)")
    page.table([*keys, *metrics, "n"], [[*row.settings.values(), *(results.cell(row.scores[m]) for m in metrics),
                                         row.n] for row in table])
    for name, fig in figures.items():
        page.figure(name, fig)
    if failed:
        page.heading(f"Failed or unfinished ({len(failed)})")
        page.table(["run"], [[name] for name in failed])
    return page.write(out / "report.html")
