"""Every head trains, validates and tests on the simulated device (``sim``): a training step reads no device value
and copies nothing to the device, except on the steps that write logs (Lightning's logger, the NaN/inf check) and
those the gradient-flow callback measures; validation and test read only where README says ("What the device
waits for"): metric updates, the decoders' stop checks, the examples shown after testing.

``pytest -m device_sim`` runs these; each head with torch.nn's kernels, our cells and a user cell."""

from pathlib import Path

import pytest
from pytorch_lightning.loggers import CSVLogger

from device_sim.sim import Event, SimStrategy, Watch, simulate
from seqexp.run.build import build_data, build_model, build_trainer, compose_config, instances

pytestmark = [pytest.mark.device_sim, pytest.mark.slow]

HEADS = {  # name: overrides; tiny models on each head's bundled data
    "classify": ["task=classify", "model=bilstm"],
    "ner-crf-cnn": ["task=ner", "model=bilstm", "task.crf=true", "model.char=cnn", "task.lm_weight=0.1"],
    "ner-lstm-chars": ["task=ner", "model=bilstm", "model.char=lstm"],
    "pos": ["task=pos", "model=bigru"],
    # after testing, the LM draws its shown samples with a device torch.Generator, which meta has not
    "lm": ["task=lm", "model=lstm", "task.sample_prompt=null", "+task.examples=0"],
    "seq2seq": ["task=seq2seq", "model=bigru", "task.decoder.hidden_size=16", "task.decoder.embedding_dim=16"],
    "cond": ["task=cond", "model=gru"],
    "adding": ["task=adding", "data.length=12", "data.train_size=64", "data.val_size=16", "data.test_size=16",
               "callbacks.grad_flow.every_n_steps=2"],
    "copy": ["task=copy", "model=lstm", "data.length=5", "data.symbols=3", "data.train_size=64", "data.val_size=16",
             "data.test_size=16", "callbacks.grad_flow.every_n_steps=2"],
}
TINY = ["model.hidden_size=16", "model.embedding_dim=16", "model.char_dim=8", "model.char_out_dim=8",
        "data.batch_size=8"]
WORDS = ["data.max_size=300"]  # heads that read text
IMPLS = {"cudnn": [], "scratch": ["model.impl=scratch"],
         "user-cell": ["model.impl=scratch", "model.cell=models.test_custom.LSTMCell"],
         "scan": ["model.impl=scratch", "model.cell=minlstm"]}  # minGRU/minLSTM's parallel scan
SCANNED = ("ner-crf-cnn", "lm", "cond", "copy")  # bidirectional with characters; a carried, a bridged state; a probe
EVERY = 2  # trainer.log_every_n_steps: steps 1 and 3 write logs, 0 and 2 do not
STEPS = 4
LOGGING = {"logger_connector.py log_metrics", "callbacks.py _check"}  # the logger, StopOnNonFinite (every EVERY)
MEASURING = {"gradflow.py", "encoder.py probed"}  # the gradient-flow callback, on its every_n_steps
EVAL_READS = {  # what validation and test read (README, "What the device waits for")
    "update_metrics", "update_generation_metrics",  # torchmetrics: bincount sizes its bins, texts for BLEU/chrF
    "metrics.py update",  # span F1: each batch's tags, to find their spans
    "greedy", "beam_search",  # the decoders: have all sequences ended? every decoding.CHECK_EVERY steps
    "rows", "shown_rows", "describe",  # test only: the examples shown after testing, as text
}


def _source(event: Event) -> set[str]:
    """What may explain ``event``: its innermost function, that with its file, and its file."""
    file, function = event.where.split(":")[0], event.where.rsplit(" ", 1)[-1]
    return {function, f"{file} {function}", file}


def run(name: str, impl: str, tmp_path: Path) -> Watch:
    text = name not in ("adding", "copy")
    overrides = [*HEADS[name], *TINY, *(WORDS if text else ()), *IMPLS[impl], f"trainer.log_every_n_steps={EVERY}"]
    cfg = compose_config(overrides, tmp_path)
    data = build_data(cfg)
    model = build_model(cfg, data)
    callbacks = {k: v for k, v in cfg.callbacks.items() if k not in ("checkpoint", "early_stopping")}  # no files
    trainer = build_trainer(cfg, strategy=SimStrategy(Watch()), callbacks=instances(callbacks),
                            logger=CSVLogger(tmp_path), max_steps=STEPS, limit_val_batches=2, limit_test_batches=2,
                            enable_checkpointing=False)
    return simulate(trainer, model, data)


CASES = [pytest.param(name, impl, id=f"{name}-{impl}") for name in HEADS for impl in IMPLS
         if (name, impl) != ("cond", "user-cell")  # task=cond refuses user cells (its bridge needs our layout)
         and (impl != "scan" or name in SCANNED)]


@pytest.mark.parametrize("name,impl", CASES)
def test_a_step_waits_only_where_it_says(name, impl, tmp_path):
    watch = run(name, impl, tmp_path)
    assert watch.uploads("transfer") and not watch.reads("transfer")  # the batch moved, and only once a step
    measured = {0, 2} if name in ("adding", "copy") else set()
    for event in watch.seen("read", ("train",)) + watch.seen("upload", ("train",)):
        allowed = (LOGGING if event.step % EVERY == EVERY - 1 else set()) | (MEASURING if event.step in measured
                                                                             else set())
        if event.kind == "upload" and event.step == EVERY - 1:
            allowed |= {"result.py"}  # Lightning moving each logged key's accumulator to the device, first log only
        assert _source(event) & allowed, (event.kind, event.step, event.stack)
    for stage in ("val", "test"):
        assert not watch.uploads(stage), [e.stack for e in watch.uploads(stage)]
        unexplained = [e.stack for e in watch.reads(stage) if not _source(e) & EVAL_READS]
        assert not unexplained, unexplained
