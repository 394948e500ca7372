"""The LightningModule every head shares: encoder construction, optimizer and scheduler from config,
one step function for train/val/test, and metrics logged as ``{stage}/{metric}``."""

import logging
from importlib.metadata import version
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from torch import Tensor, nn
from torchmetrics import MetricCollection

from seqexp.data.base import SPLITS
from seqexp.data.batch import collate, encode_words, lengths_of, to_device
from seqexp.data.text import tokenize
from seqexp.data.vocab import Vocab, Vocabs
from seqexp.errors import ConfigError
from seqexp.tasks.metrics import WeightedMean
from seqexp.tasks.shown import Showcase, Shown

log = logging.getLogger(__name__)

VERSION = version("seqexp")  # saved in checkpoints; a checkpoint of a newer seqexp is refused (run.checkpoints)


def mask(lengths: Tensor, max_len: int) -> Tensor:
    """``[B, T]`` True at real tokens, False at padding."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def writes_logs(trainer: pl.Trainer) -> bool:
    """Whether Lightning writes step metrics after the current training step (every ``log_every_n_steps``):
    step values logged on other steps are dropped, so computing them there is wasted."""
    return (trainer.global_step + 1) % trainer.log_every_n_steps == 0


class SeqTask(pl.LightningModule):
    """Heads implement ``step(batch, stage) -> (loss, preds, targets)`` and call ``set_metrics`` in ``__init__``;
    ``preds`` is whatever the head's ``update_metrics`` and ``rows`` read.

    Every constructor argument is plain data (dicts, lists of strings), so a checkpoint alone rebuilds the
    model, vocabulary included, and loads with ``weights_only=True``. ``pretrained`` vectors are the one
    exception: they only initialise the embedding, whose trained weights the checkpoint holds anyway.
    """

    def __init__(self, encoder: dict, vocab: list[str], optimizer: dict, scheduler: dict | None = None,
                 tokenizer: dict | None = None, chars: list[str] | None = None, singletons: int = 0,
                 examples: int = 5, pretrained: Tensor | None = None, input_dim: int | None = None):
        super().__init__()
        self.save_hyperparameters(ignore=["pretrained"], logger=False)  # loggers get the whole run config
        self.vocab = Vocab(vocab)
        self.chars = Vocab(chars) if chars else None
        self.showcase = Showcase(examples)  # test predictions for the log, the W&B table and the run page
        self.shown: list[Shown] = []  # the last test epoch's
        self.losses = nn.ModuleDict({f"{s}_loss": WeightedMean() for s in SPLITS})  # "train" is a Module method
        self.encoder = instantiate(encoder, vocab_size=len(self.vocab), padding_idx=self.vocab.pad_index,
                                   unk_idx=self.vocab.unk_index, num_chars=len(chars or ()), singletons=singletons,
                                   pretrained=pretrained, input_dim=input_dim)
        self.members: nn.ModuleList | None = None  # ``join``: the other models of an ensemble

    @property
    def vocabs(self) -> Vocabs:
        """The vocabularies this model was trained with, as its data module built them."""
        return Vocabs.from_args(self.hparams)

    def set_metrics(self, metrics: MetricCollection, train: MetricCollection | None = None) -> None:
        """One copy of the head's metrics per stage, logged as ``{stage}/{name}``; ``train`` when training
        should track fewer: only what is cheap and never waits for the GPU (no decoding, no host loops)."""
        # keyed "train_metrics" etc.: a ModuleDict key may not shadow a Module attribute such as .train
        self.metrics = nn.ModuleDict({f"{s}_metrics": (train if s == "train" and train is not None else
                                                       metrics).clone(prefix=f"{s}/") for s in SPLITS})

    def step(self, batch: dict[str, Tensor], stage: str) -> tuple[Tensor, Any, Tensor]:
        raise NotImplementedError

    def loss_weight(self, batch: dict[str, Tensor], targets: Tensor) -> int:
        """What a step's loss is the mean over, so the epoch loss weighs steps by it: examples by default."""
        return batch["lengths"].numel()

    ensembles = False  # heads whose every score passes through ``mean_scores`` set this
    reads: type | None = None  # the data module (class) whose examples the head learns from; seqexp.run.schema
    better: dict[str, str] = {}
    """Each metric the head logs (without its stage) -> ``max`` or ``min``, which way is better: metrics.json records
    it for every key, and the sweep report ranks by it (a name says nothing of it: lower perplexity is better)."""

    @classmethod
    def direction(cls, key: str) -> str | None:
        """``max`` or ``min`` for a logged key (``val/ppl``; per-type ``test/f1_person`` goes as ``f1``), or None."""
        name = key.partition("/")[2] or key
        if name.startswith("loss"):
            return "min"
        return cls.better.get(name) or cls.better.get(name.partition("_")[0])

    def join(self, others: list["SeqTask"]) -> None:
        """Score as an ensemble with ``others`` (models of this head on the same vocabularies), for evaluation."""
        if not self.ensembles:
            raise ConfigError(f"ckpt: {type(self).__name__} checkpoints cannot be ensembled (classifiers and "
                              "taggers can)")
        self.members = nn.ModuleList(others)

    def mean_scores(self, scores: Tensor, batch: dict[str, Tensor]) -> Tensor:
        """This model's ``scores`` (logits) for ``batch``, averaged with every joined member's: mean logits are
        the renormalised geometric mean of the members' distributions."""
        if self.members is None:
            return scores
        return torch.stack([scores, *(member(batch) for member in self.members)]).mean(0)

    def update_metrics(self, metrics: MetricCollection, preds: Any, targets: Tensor,
                       batch: dict[str, Tensor]) -> None:
        """Heads whose metrics need more than (preds, targets), e.g. a padding mask, override this."""
        metrics.update(preds, targets)

    def rows(self, batch: dict[str, Tensor], preds: Any, targets: Tensor) -> list[Shown]:
        """The examples of a test batch worth showing, as text in their original words (``example``)."""
        raise NotImplementedError

    def example(self, index: int):
        """Test example ``index`` as its data module read it: the words of the file, not the vocabulary's."""
        return self.trainer.datamodule.example("test", index)

    def input_words(self, index: int) -> list[str]:
        """The words test example ``index`` feeds the encoder, as written in the file (no ``<unk>``)."""
        return self.trainer.datamodule.words(self.example(index))

    def collect_rows(self, batch: dict[str, Tensor], preds: Any, targets: Tensor, stage: str) -> None:
        if stage == "test" and getattr(self.trainer, "datamodule", None) is not None:
            for shown in self.rows(batch, preds, targets):
                self.showcase.offer(shown)

    def shown_rows(self) -> list[Shown]:
        """The rows to show after testing: a spread of errors and of right answers (``seqexp.tasks.shown``)."""
        return self.showcase.pick()

    def _shared_step(self, batch: dict[str, Tensor], stage: str) -> Tensor:
        loss, preds, targets = self.step(batch, stage)
        self.update_metrics(self.metrics[f"{stage}_metrics"], preds, targets, batch)
        self.collect_rows(batch, preds, targets, stage)
        self.log_loss(stage, loss, self.loss_weight(batch, targets))
        return loss

    def log_loss(self, stage: str, loss: Tensor, weight: int) -> None:
        """Accumulate ``{stage}/loss`` for the epoch, weighted by ``weight`` (examples, or tokens for the LM),
        in a metric that is exact across DDP processes. The step loss is logged only on the steps Lightning
        writes (``log_every_n_steps``): each ``self.log`` costs more than a small CPU step's backward."""
        self.losses[f"{stage}_loss"].update(loss, weight)
        if stage == "train" and writes_logs(self.trainer):
            self.log("train/loss_step", loss)  # not on the bar: it reads its values on every step (.item())

    def _log_metrics(self, stage: str) -> None:
        """Compute once per epoch (synced across processes), log as ``{stage}/{name}``, reset."""
        metrics, loss = self.metrics[f"{stage}_metrics"], self.losses[f"{stage}_loss"]
        values = {**metrics.compute(), f"{stage}/loss_epoch" if stage == "train" else f"{stage}/loss": loss.compute()}
        shown = {f"{stage}/loss", getattr(self.trainer.checkpoint_callback, "monitor", None)}  # the bar: these only
        self.log_dict({k: v for k, v in values.items() if k in shown}, prog_bar=True)
        self.log_dict({k: v for k, v in values.items() if k not in shown})
        metrics.reset()
        loss.reset()

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "test")

    def on_train_epoch_end(self) -> None:
        self._log_metrics("train")

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test")
        self.shown = self.shown_rows()  # also on the run page (seqexp.run.page)
        rows = [shown.row for shown in self.shown]
        for row in rows if self.trainer.is_global_zero else ():  # DDP: shown once
            log.info("example: %s", "  |  ".join(f"{k}: {v}" for k, v in row.items()))
        for logger in self.loggers:
            if rows and hasattr(logger, "log_table"):  # W&B
                logger.log_table("test/predictions", columns=list(rows[0]), data=[list(r.values()) for r in rows])

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["seqexp_task"] = f"{type(self).__module__}.{type(self).__name__}"  # checked on resume
        checkpoint["seqexp_version"] = VERSION

    def configure_optimizers(self) -> Any:
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = instantiate(self.hparams.optimizer)(params)  # a `_partial_: true` config
        if not self.hparams.scheduler:
            return optimizer
        scheduler = dict(self.hparams.scheduler)
        scheduler["scheduler"] = instantiate(scheduler["scheduler"])(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def batch_from_texts(self, texts: list[str]) -> tuple[dict[str, Tensor], list[list[str]]]:
        """Raw texts -> a batch on the model's device, tokenized as in training (settings in the checkpoint)."""
        settings = self.hparams.tokenizer or {}
        words = [tokenize(t, settings.get("tokenizer", "whitespace")) for t in texts]
        items = [encode_words(w, self.vocab, settings.get("lowercase", False), self.chars, settings.get("max_word_len"))
                 for w in words]
        return to_device(collate(items), self.device), words

    reads_text = True
    """Whether the head reads raw text (``predict``); heads of generated data (task=adding, copy) set it false."""

    def predict(self, texts: list[str]) -> list[dict]:
        """One JSON-ready dict per text (``python -m seqexp.predict``)."""
        raise NotImplementedError

    def check_input(self, text: str) -> str | None:
        """What keeps ``predict`` from reading one line of raw input, or None; the caller names the line."""
        return None if text.strip() else "empty line (one example per line)"

    def encode(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor | tuple]:
        """The shared encoder over a batch: ``(outputs [B, T, D], final [B, D], state)``, packed by the lengths
        and order the batch brought (``seqexp.data.batch.lengths_of``)."""
        return self.encoder(batch["tokens"], lengths_of(batch), chars=batch.get("chars"),
                            char_lengths=lengths_of(batch, "char_lengths"))


def update_generation_metrics(metrics: MetricCollection, logits: Tensor, generated: Tensor | None, targets: Tensor,
                              vocab: Vocab) -> None:
    """For heads that generate text: ``ppl`` from the teacher-forced ``logits [B, T, V]``; the text metrics
    (BLEU, chrF) from ``generated [B, L]`` ids against ``targets``, when there are generations (val, test)."""
    texts = None
    for name, metric in metrics.items(keep_base=True):
        if name == "ppl":
            metric.update(logits, targets)
        elif generated is not None:
            texts = texts or ([vocab.text(g) for g in generated.tolist()], [[vocab.text(t)] for t in targets.tolist()])
            metric.update(*texts)
