"""The run page as a person sees it: a real headless Chromium opens report.html from a real short run (CI installs
Chromium from Debian's packages), with no console error, every image loaded, and a screenshot that is not blank."""

import io

import numpy as np
import pytest
from matplotlib.image import imread

from browser import Browser
from helpers import run_seqexp


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    opened = Browser(tmp_path_factory.mktemp("profile"))
    yield opened
    opened.close()


def test_a_classifier_run_page_opens_in_chromium(tmp_path, browser):
    run = tmp_path / "run"
    proc = run_seqexp(run, "model=gru", "trainer.max_epochs=2", "+trainer.limit_train_batches=10")
    assert proc.returncode == 0, proc.stderr[-3000:]
    look = browser.look(run / "report.html")
    assert look.errors == []
    assert [alt for alt, _, _ in look.images] == ["learning_curves", "confusion_matrix"]
    assert all(loaded and width > 300 for _, loaded, width in look.images), look.images
    assert look.title == "seqexp run: task=classify model=gru data=trec"
    shot = imread(io.BytesIO(look.screenshot))  # [H, W, 4] in 0..1
    assert shot.shape[0] >= 2000 and shot.shape[1] > 1200  # the whole page, beyond the window
    colours = np.unique((shot[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50 and shot[..., :3].std() > 0.05  # text, tables and plots, not a blank page


def test_a_broken_image_is_seen(tmp_path, browser):
    """The check itself can fail: a page whose image does not decode is reported."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><title>x</title></head><body>'
                    '<img alt="bad" src="data:image/png;base64,AAAA"><script>console.error("boom")</script></body>'
                    "</html>")
    look = browser.look(page)
    assert look.images == [("bad", True, 0)]
    assert any("boom" in error for error in look.errors)
