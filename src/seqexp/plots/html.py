"""A self-contained HTML page: images inlined as data URIs, the style in the page, no script and no network, so
that it opens in any browser from a copied run folder, an e-mail or a cluster's scratch disk."""

import base64
import html
import os
from pathlib import Path

from matplotlib.figure import Figure

from seqexp.plots.figures import png

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222 }
h1 { font-size: 1.5em } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd }
table { border-collapse: collapse; margin: 0.5em 0 } td, th { border: 1px solid #ddd; padding: 0.25em 0.6em;
  text-align: left; vertical-align: top } th { background: #f4f4f4 } td.num { text-align: right;
  font-variant-numeric: tabular-nums }
tr.wrong td { background: #fde8e8 } tr.right td { background: #e9f7ec }
img { max-width: 100%; height: auto; display: block; margin: 0.5em 0 }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 13px }
figcaption { color: #555; font-size: 0.9em }
"""


class Page:
    """Sections appended in reading order; ``figures`` keeps each drawn figure by name, for the run's loggers, and
    ``pngs`` its PNG, drawn once for the page and for files beside it."""

    def __init__(self, title: str):
        self.title = title
        self.parts: list[str] = [f"<h1>{html.escape(title)}</h1>"]
        self.figures: dict[str, Figure] = {}
        self.pngs: dict[str, bytes] = {}

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def text(self, text: str) -> None:
        self.parts.append(f"<p>{html.escape(text)}</p>")

    def pre(self, text: str) -> None:
        self.parts.append(f"<pre>{html.escape(text)}</pre>")

    def table(self, header: list[str], rows: list[list[object]], marks: list[str | None] | None = None) -> None:
        """``marks``: a class per row (``wrong``, ``right``: the row's colour), or None."""
        marks = marks or [None] * len(rows)
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join(f"<tr{f' class={m!r}' if m else ''}>{''.join(_cell(v) for v in row)}</tr>"
                       for row, m in zip(rows, marks, strict=True))
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def figure(self, name: str, fig: Figure, caption: str = "") -> None:
        """The figure as an inlined PNG; ``name`` is its key for the loggers (``report/<name>``)."""
        self.figures[name], self.pngs[name] = fig, png(fig)
        data = base64.b64encode(self.pngs[name]).decode("ascii")
        text = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.parts.append(f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">{text}'
                          "</figure>")

    def html(self) -> str:
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}'
                f"</title><style>{STYLE}</style></head><body>\n" + "\n".join(self.parts) + "\n</body></html>\n")

    def write(self, path: Path) -> Path:
        """Whole or absent: written beside and renamed over ``path``, so an interrupt leaves no half page."""
        part = path.with_name(path.name + ".part")
        part.write_text(self.html(), encoding="utf-8")
        os.replace(part, path)
        return path


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f'<td class="num">{value:.4f}</td>'
    return f"<td>{html.escape(str(value))}</td>"
