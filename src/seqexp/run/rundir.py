"""A run's folder, its layout named once: what ``fit`` writes there, and what score, export, resume, sweeps and
the report read from it. (conf/callbacks/default.yaml names ``checkpoints/`` for the checkpoint callback.)"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunDir:
    path: Path

    @classmethod
    def of(cls, ckpt: Path) -> "RunDir":
        """The run a checkpoint belongs to: ``RUN/checkpoints/x.ckpt`` -> ``RUN``."""
        return cls(Path(ckpt).parent.parent)

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last(self) -> Path:
        """What an interrupted run resumes from."""
        return self.checkpoints / "last.ckpt"

    @property
    def wandb_id(self) -> Path:
        """The W&B run id, kept beside the checkpoints so that a resumed run logs into the same W&B run."""
        return self.checkpoints / "wandb_id"

    @property
    def metrics(self) -> Path:
        """metrics.json: written once, when the run has finished (tested); its presence means finished."""
        return self.path / "metrics.json"

    @property
    def config(self) -> Path:
        return self.path / ".hydra" / "config.yaml"

    @property
    def overrides(self) -> Path:
        return self.path / ".hydra" / "overrides.yaml"

    @property
    def export(self) -> Path:
        return self.path / "export"

    @property
    def page(self) -> Path:
        """report.html, the run page (seqexp.run.page)."""
        return self.path / "report.html"

    @property
    def pictures(self) -> Path:
        """The run page's figures as PNG files, to use elsewhere (a paper, a slide)."""
        return self.path / "pictures"

    @property
    def curves(self) -> Path:
        """Lightning's CSV logger's rows (logger.csv; conf/logger/csv.yaml names ``csv/``)."""
        return self.path / "csv" / "metrics.csv"

    @property
    def shown(self) -> Path:
        """The test predictions the run showed, errors marked."""
        return self.path / "shown.json"

    @property
    def attention(self) -> Path:
        """An attention seq2seq run's alignments of a few shown test sources."""
        return self.path / "attention.json"

    @property
    def confusion(self) -> Path:
        """A classifier's test confusion matrix (seqexp.tasks.classify writes it)."""
        return self.path / "confusion_matrix.csv"

    @property
    def grad_flow(self) -> Path:
        """dL/dh_t by distance, when callbacks.grad_flow measured it (seqexp.run.gradflow)."""
        return self.path / "grad_flow.csv"

    def finished(self) -> bool:
        return self.metrics.is_file()

    def result(self) -> dict | None:
        """The finished run's metrics.json, or None while it has not finished."""
        return json.loads(self.metrics.read_text()) if self.finished() else None


def runs_under(root: Path) -> Iterator[RunDir]:
    """Every run folder below ``root``, finished or not: each has the overrides Hydra wrote when it started."""
    for overrides in root.glob("**/.hydra/overrides.yaml"):
        yield RunDir(overrides.parent.parent)
