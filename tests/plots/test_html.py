"""The self-contained page: inlined images, escaped text, written whole."""

import base64
import re

from seqexp.plots.figures import new_figure
from seqexp.plots.html import Page


def test_the_page_inlines_its_images_and_escapes_what_it_shows(tmp_path):
    page = Page("a <run>")
    fig, ax = new_figure(2, 2)
    ax.plot([0, 1], [1, 0])
    page.figure("curve", fig, "a caption")
    page.table(["input", "gold"], [["<script>alert(1)</script>", 0.5], ["x & y", "B"]], ["wrong", "right"])
    path = page.write(tmp_path / "report.html")
    text = path.read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text and "x &amp; y" in text
    sources = re.findall(r'src="([^"]+)"', text)
    assert len(sources) == 1 and sources[0].startswith("data:image/png;base64,")
    assert base64.b64decode(sources[0].partition(",")[2])[:4] == b"\x89PNG"
    assert "http" not in text  # nothing to fetch
    assert '<tr class=\'wrong\'>' in text and '<td class="num">0.5000</td>' in text
    assert page.figures == {"curve": fig}
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no .part left behind
