"""task=adding end to end: a tiny run writes its metrics, the always-1.0 baseline and the gradient flow."""

import csv
import math

import pytest

from helpers import QUICK, read_metrics, run_module
from seqexp.run.fit import train

TINY = ["data.length=12", "data.train_size=128", "data.val_size=32", "data.test_size=32", "model.hidden_size=8",
        "trainer.max_epochs=1", "trainer.log_every_n_steps=1", "callbacks.grad_flow.every_n_steps=1"]


GATE = {"lstm": "forget", "bigru": "update", "mingru": "keep", "minlstm": "forget"}  # the memory gate's name


@pytest.mark.parametrize("model", GATE)
def test_a_tiny_run_writes_metrics_and_grad_flow(make_cfg, tmp_path, model):
    result = train(make_cfg("task=adding", f"model={model}", *TINY))
    metrics = result["metrics"]
    assert {"test/mse", "test/within", "test/baseline_mse", "val/mse"} <= set(metrics)
    assert metrics["test/mse"] == pytest.approx(metrics["test/loss"], rel=1e-4)
    assert 0 <= metrics["test/within"] <= 1 and 0.05 < metrics["test/baseline_mse"] < 0.4
    assert (tmp_path / "grad_flow.png").stat().st_size > 1000
    rows = list(csv.DictReader((tmp_path / "grad_flow.csv").open()))
    directions = 2 if model.startswith("bi") else 1
    assert len(rows) == 2 * directions * 12  # steps 0 and 1, every distance of the 12
    logged = next(csv.DictReader((tmp_path / "csv" / "metrics.csv").open())).keys()
    assert {"grad_flow/l0_log10_ratio", "grad_flow/l0_saturated", f"grad_flow/l0_{GATE[model]}_gate"} <= set(logged)


@pytest.mark.slow  # two subprocess runs: ~30 s
def test_the_exploding_recipe_diverges_without_clipping_and_trains_with_it(tmp_path):
    """experiment=lab_exploding: dL/dh_t grows with the distance back in time; unclipped SGD throws the weights to
    inf and the run stops in one line; clipped, the same run ends with a finite test MSE."""
    small = ["data.train_size=640", "data.val_size=64", "data.test_size=64", "trainer.max_epochs=1", *QUICK]
    proc = run_module("seqexp", "experiment=lab_exploding", *small, f"hydra.run.dir={tmp_path}/free")
    assert proc.returncode == 2 and "training diverged: the loss became NaN or inf" in proc.stderr + proc.stdout
    assert not (tmp_path / "free" / "metrics.json").exists()
    rows = [r for r in csv.DictReader((tmp_path / "free" / "grad_flow.csv").open()) if r["step"] == "0"]
    norms = [float(r["norm"]) for r in rows]  # by distance 0, 1, ... 99 from the last step
    assert norms[99] > 20 * norms[0]  # 1.05 ** 99 = 125, less where relu units are off
    proc = run_module("seqexp", "experiment=lab_exploding", "trainer.gradient_clip_val=1.0", *small,
                      f"hydra.run.dir={tmp_path}/clipped")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert math.isfinite(read_metrics(tmp_path / "clipped")["metrics"]["test/mse"])
