"""The figures drawn on small known inputs: what is on the canvas, not only that something was drawn."""

import numpy as np
import pytest
from matplotlib import colormaps

from seqexp.plots.figures import grad_flow, heatmap, learning_curves, pixels, png, type_bars


def cell_colours(fig, n_rows: int, n_cols: int) -> np.ndarray:
    """The drawn colour at the centre of each cell of the figure's heatmap, ``[R, C, 3]`` in 0..1."""
    image = pixels(fig)  # [H, W, 3]
    ax = fig.axes[0]
    box = ax.get_window_extent()  # pixels, origin at the bottom left
    height = image.shape[0]
    colours = np.zeros((n_rows, n_cols, 3))
    for i in range(n_rows):
        for j in range(n_cols):
            x = box.x0 + (j + 0.5) * box.width / n_cols
            y = box.y1 - (i + 0.5) * box.height / n_rows  # row 0 on top
            colours[i, j] = image[int(height - y), int(x)] / 255
    return colours


def test_an_identity_attention_matrix_draws_a_dark_diagonal_on_white():
    words = ["a", "b", "c", "d", "e"]
    fig = heatmap(np.eye(5), words, words, "attention", cmap="Greys", vmin=0, vmax=1)
    colours = cell_colours(fig, 5, 5)
    black, white = colormaps["Greys"](1.0)[:3], colormaps["Greys"](0.0)[:3]
    for i in range(5):
        for j in range(5):
            assert colours[i, j] == pytest.approx(black if i == j else white, abs=0.02)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == words
    corner = np.zeros((2, 3))
    corner[0, 2] = 1  # the first output word looked at the last source word: top right
    dark = cell_colours(heatmap(corner, ["x", "y"], ["a", "b", "c"], "", cmap="Greys", vmin=0, vmax=1), 2, 3)
    assert dark.sum(axis=-1).argmin() == 2


def test_a_confusion_matrix_writes_each_count_in_its_cell():
    fig = heatmap([[5, 1], [0, 7]], ["pos", "neg"], ["pos", "neg"], "confusion", cmap="Blues", numbers=True)
    texts = {(t.get_position(), t.get_text()) for t in fig.axes[0].texts}
    assert texts == {((0, 0), "5"), ((1, 0), "1"), ((0, 1), "0"), ((1, 1), "7")}
    colours = {t.get_text(): t.get_color() for t in fig.axes[0].texts}
    assert colours["7"] == "white" and colours["0"] == "black"  # readable on the dark and the light cells


def test_learning_curves_plot_training_rows_and_mark_the_best_validation_step():
    rows = [{"epoch": "0", "step": "9", "train/loss_step": "2.0"},
            {"epoch": "0", "step": "19", "train/loss_epoch": "1.5", "val/loss": "1.2", "val/acc": "0.6"},
            {"epoch": "1", "step": "39", "train/loss_epoch": "1.0", "val/loss": "1.1", "val/acc": "0.8"},
            {"epoch": "2", "step": "59", "train/loss_epoch": "0.7", "val/loss": "1.3", "val/acc": "0.7"},
            {"epoch": "3", "step": "59", "val/loss": "1.1", "val/acc": "0.8"}]  # the best checkpoint, rescored
    fig = learning_curves(rows, "val/acc", epochs=3, higher_is_better=True)
    losses, score = fig.axes[:2]
    lines = {line.get_label(): line for line in losses.get_lines()}
    assert list(lines["val/loss"].get_xdata()) == [19, 39, 59]
    assert list(lines["train/loss_epoch"].get_ydata()) == [1.5, 1.0, 0.7]
    assert list(score.get_lines()[0].get_ydata()) == [0.6, 0.8, 0.7]
    assert list(score.get_lines()[1].get_xdata()) == [39, 39]  # the best: epoch 1
    lower = learning_curves(rows, "val/loss", epochs=3, higher_is_better=False)
    assert list(lower.axes[1].get_lines()[1].get_xdata()) == [39, 39]
    assert learning_curves(rows[-1:], "val/acc", epochs=3, higher_is_better=True) is None


def test_type_bars_are_as_high_as_the_scores():
    fig = type_bars({"PER": {"precision": 0.9, "recall": 0.5, "f1": 0.64}, "LOC": {"precision": 0.2, "recall": 0.4,
                                                                                    "f1": 0.27}}, "per type")
    heights = [round(bar.get_height(), 2) for bar in fig.axes[0].patches]
    assert heights == [0.9, 0.2, 0.5, 0.4, 0.64, 0.27]  # precision, recall, f1 of PER then LOC


def test_grad_flow_draws_one_line_per_step_and_direction_and_the_png_is_a_png():
    rows = [[0, 0, d, t, 10.0 ** -t] for d in (0, 1) for t in range(4)] + [[5, 0, 0, t, 1.0] for t in range(4)]
    fig = grad_flow(rows)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["step 0", "step 0, reverse", "step 5"]
    assert list(fig.axes[0].get_lines()[0].get_ydata()) == [1.0, 0.1, 0.01, 0.001]
    assert png(fig)[:8] == b"\x89PNG\r\n\x1a\n"
