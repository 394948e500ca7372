"""The memory horizon: hand-made runs give the right points; a real sweep over data.length gets its picture."""

import json
import statistics

import pytest
from matplotlib.image import imread

from helpers import QUICK, run_module
from seqexp.tools.horizon import horizon, plot_horizon
from seqexp.tools.report import collect_runs, main


def test_points_are_the_mean_and_std_over_seeds_per_delay_and_cell(tmp_path):
    accs = {("lstm", 10): [1.0, 0.8], ("lstm", 100): [0.2], ("gru", 10): [0.9, 0.7], ("gru", 100): [0.5, 0.3]}
    for i, ((model, delay), values) in enumerate(accs.items()):
        for seed, acc in enumerate(values):
            run = tmp_path / f"{i}{seed}"
            run.mkdir()
            (run / "metrics.json").write_text(json.dumps({
                "metrics": {"test/acc": acc, "test/baseline_acc": 0.1 + delay / 10_000}, "monitor": "val/acc",
                "epochs": 1, "seconds": 1.0, "choices": {"model": model}, "seed": seed,
                "overrides": [f"model={model}", f"data.length={delay}", f"seed={seed}"]}))
    runs = collect_runs([tmp_path])
    lines, chance = horizon(runs, ["model", "data.length"], "test/acc")
    assert lines == {"model=lstm": [(10, 0.9, statistics.stdev([1.0, 0.8])), (100, 0.2, 0.0)],
                     "model=gru": [(10, 0.8, statistics.stdev([0.9, 0.7])), (100, 0.4, statistics.stdev([0.5, 0.3]))]}
    assert chance == [(10, 0.101), (100, pytest.approx(0.11))]
    assert plot_horizon(runs, ["model", "seed"], "test/acc") is None  # no delay swept: no picture
    # a key only some runs set (a second sweep's model.init=chrono) labels only those runs' line
    assert set(horizon(runs, ["model", "model.init", "data.length"], "test/acc")[0]) == {"model=lstm", "model=gru"}
    assert main([str(tmp_path)]) == 0
    assert imread(tmp_path / "horizon.png").shape[0] > 100


@pytest.mark.slow  # a sweep of four tiny runs in one process: ~30 s
def test_a_sweep_over_the_delay_draws_one_line_per_cell_and_the_baseline(tmp_path):
    """``python -m seqexp -m task=copy model=rnn,lstm data.length=3,6`` then ``python -m seqexp.report``."""
    proc = run_module("seqexp", "-m", "task=copy", "model=rnn,lstm", "data.length=3,6", "data.symbols=2",
                      "data.alphabet=4", "data.train_size=64", "data.val_size=16", "data.test_size=16",
                      "model.hidden_size=8", "trainer.max_epochs=1", *QUICK, f"hydra.sweep.dir={tmp_path}/sweep",
                      cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert run_module("seqexp.report", str(tmp_path / "sweep")).returncode == 0
    assert imread(tmp_path / "sweep" / "horizon.png").shape[0] > 100
    runs = collect_runs([tmp_path / "sweep"])
    ax = plot_horizon(runs, ["model", "data.length"], "test/acc").axes[0]
    lines = {bars.get_label(): bars.lines[0] for bars in ax.containers}  # errorbar(): its data line and bars
    lines |= {line.get_label(): line for line in ax.get_lines() if line.get_label() == "memoryless baseline"}
    assert set(lines) == {"model=rnn", "model=lstm", "memoryless baseline"}
    for line in lines.values():
        assert list(line.get_xdata()) == [3, 6]
    by_run = {(r.overrides["model"], r.overrides["data.length"]): r.result["metrics"]["test/acc"] for r in runs}
    assert list(lines["model=lstm"].get_ydata()) == [by_run["lstm", "3"], by_run["lstm", "6"]]
    assert all(0.2 < y < 0.5 for y in lines["memoryless baseline"].get_ydata())  # ~1/4: the majority symbol
