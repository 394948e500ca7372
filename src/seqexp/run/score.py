"""Scoring trained checkpoints again: one model or an ensemble, on val or test, the run's data or other files."""

import os
from pathlib import Path

import pytorch_lightning as pl

from seqexp import interrupts
from seqexp.run.build import build_data
from seqexp.run.runs import load_run, write_json


def score(ckpts: list[Path], split: str = "test", overrides: list[tuple[str, object]] = ()) -> dict:
    """The metrics of ``ckpts`` (one model, or several as an ensemble) on ``split``, written to
    ``RUN/evaluate-{split}.json`` (``ensemble-{split}.json`` in the runs' common dir for an ensemble)."""
    interrupts.enter("loading the checkpoint")
    cfg, model = load_run(ckpts, overrides)
    interrupts.enter("reading the data")
    data = build_data(cfg, model.vocabs, stage="test")
    runs = [ckpt.parent.parent for ckpt in ckpts]
    out = runs[0] if len(runs) == 1 else Path(os.path.commonpath([r.resolve() for r in runs]))  # e.g. a sweep dir
    # default_root_dir: files a head writes after testing (confusion_matrix.csv) land in the run, not the cwd
    trainer = pl.Trainer(accelerator="auto", devices=1, logger=False, enable_checkpointing=False,
                         default_root_dir=out, enable_progress_bar=False, enable_model_summary=False)
    interrupts.enter(f"scoring {split}")
    scores = (trainer.validate if split == "val" else trainer.test)(model, datamodule=data, verbose=False)[0]
    result = {"checkpoint": str(ckpts[0]) if len(ckpts) == 1 else [str(c) for c in ckpts], "split": split,
              "metrics": {k: round(float(v), 6) for k, v in sorted(scores.items())}}
    interrupts.enter("writing the scores", "the scores file is whole or absent")
    write_json(out / f"{'evaluate' if len(ckpts) == 1 else 'ensemble'}-{split}.json", result)
    return result
