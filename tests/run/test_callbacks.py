"""The default callbacks, through the real command line."""

import os
import signal
from types import SimpleNamespace

import pytest
import torch

from helpers import run_seqexp
from seqexp.errors import Interrupted
from seqexp.run.callbacks import Interrupt

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


def test_a_signal_during_the_sanity_check_stops_after_the_first_step(tmp_path):
    """Lightning's SIGTERM handler is in place from before the sanity check; ours replaces it from then on, and
    the signal it took is kept when training starts."""
    callback, trainer = Interrupt(), SimpleNamespace(world_size=1, checkpoint_callback=None, current_epoch=0,
                                                     global_step=1)
    callback.on_sanity_check_start(trainer, None)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        callback.on_train_start(trainer, None)
        assert callback.signum == signal.SIGTERM
        with pytest.raises(Interrupted, match=r"interrupted \(SIGTERM\) at epoch 0, step 1; checkpointing is off"):
            callback.on_train_batch_end(trainer, None, None, None, 0)
    finally:
        callback._restore()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
