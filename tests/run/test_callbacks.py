"""The default callbacks, through the real command line."""

import torch

from helpers import run_seqexp

# SGD at lr 0.1 learns in epoch 0; StepLR then makes it 3e38 (near float32 max), and epoch 1 blows up.
EXPLODE = ["optimizer._target_=torch.optim.SGD", "optimizer.lr=0.1", "trainer.max_epochs=3",
           "+trainer.limit_train_batches=30", "callbacks.early_stopping=null",
           "scheduler={scheduler: {_target_: torch.optim.lr_scheduler.StepLR, _partial_: true, step_size: 1, "
           "gamma: 3e39}}"]


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    run = tmp_path / "run"
    proc = run_seqexp(run, *EXPLODE)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-3000:]
    last = run / "checkpoints" / "last.ckpt"
    assert f"training diverged: the loss became NaN or inf by epoch 1, step 50 (optimizer.lr=3e+38); the last " \
           f"good checkpoint is {last}" in out
    assert "Traceback" not in out and not (run / "metrics.json").exists()
    kept = torch.load(last, weights_only=True)
    assert kept["epoch"] == 0
    assert all(torch.isfinite(w).all() for w in kept["state_dict"].values())
