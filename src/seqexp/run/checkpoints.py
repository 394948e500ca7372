"""Checkpoints: written so that a kill at any moment leaves the previous one whole, and read in one place, so
that every entry point (resume, evaluate, predict, ensembles) refuses a bad file with the same clear line."""

import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any

import torch
from hydra.utils import get_class
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from packaging.version import InvalidVersion, Version

from seqexp.data.vocab import Vocab, Vocabs
from seqexp.errors import ConfigError, first_line
from seqexp.tasks.base import VERSION, SeqTask

log = logging.getLogger(__name__)

MOVED = {  # module paths of seqexp 0.1 layouts, as stored in older checkpoints and run configs
    "seqexp.encoders.": "seqexp.models.encoder.",
    "seqexp.callbacks.": "seqexp.run.callbacks.",
    "seqexp.checkpoint_io.": "seqexp.run.checkpoints.",
    "seqexp.loggers.": "seqexp.run.loggers.",
    "seqexp.schedules.": "seqexp.run.schedules.",
    "seqexp.evaluate.EnsembleSweep": "seqexp.run.sweep.EnsembleSweep",
}


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write to a temporary file beside the checkpoint, fsync, then rename over it. Lightning's own save
    stages the file in the system temp dir, and moving it from there to a run dir on another filesystem
    (local /tmp, networked outputs) is a copy that a kill can cut in half."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def upgrade(node: Any) -> Any:
    """``node`` (a config or hyperparameters, as plain data) with the ``_target_`` paths of older layouts
    rewritten to today's, so runs and checkpoints written before a move still load."""
    if isinstance(node, dict):
        return {k: _moved(v) if k == "_target_" else upgrade(v) for k, v in node.items()}
    if isinstance(node, list):
        return [upgrade(v) for v in node]
    return node


def _moved(target: Any) -> Any:
    for old, new in MOVED.items():
        if isinstance(target, str) and target.startswith(old):
            return new + target.removeprefix(old)
    return target


def load_checkpoint(path: str | Path, key: str = "ckpt") -> dict:
    """A seqexp checkpoint's contents, loaded with ``weights_only`` (plain tensors and data: a file that would
    run code is refused). Every way a file can be unusable is a ConfigError naming ``key`` and the file: not
    there, empty, cut short or not a PyTorch file, refused by ``weights_only``, not seqexp's, or written by a newer
    seqexp than this one."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{key}: checkpoint not found: {path}" if not path.exists()
                          else f"{key}: {path} is not a file")
    if path.stat().st_size == 0:
        raise ConfigError(f"{key}: {path} is empty (a save that was cut short?)")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before it refuses a file
            warnings.simplefilter("ignore")
            saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - whatever torch.load fails on, the file is what is wrong
        code = re.search(r"GLOBAL ([\w.]+)", str(e))  # torch names the function or class a pickle calls
        if code:
            raise ConfigError(f"{key}: {path} refers to Python code ({code.group(1)}) that loading it would "
                              "run: refused, it is not a seqexp checkpoint") from None
        raise ConfigError(f"{key}: {path} is not a readable checkpoint: cut short, or not a PyTorch file "
                          f"({first_line(e)[:160]})") from None
    if not isinstance(saved, dict) or not {"state_dict", "hyper_parameters"} <= saved.keys():
        raise ConfigError(f"{key}: {path} is a PyTorch file but not a seqexp checkpoint (no state_dict and "
                          "hyper_parameters)")
    written = str(saved.get("seqexp_version", "0.1.0"))  # 0.1.0 wrote none
    try:
        newer = Version(written) > Version(VERSION)
    except InvalidVersion:
        newer = True
    if newer:
        raise ConfigError(f"{key}: {path} was written by seqexp {written}, this is seqexp {VERSION}: update "
                          "seqexp to read it")
    return saved


def load_model(path: str | Path, overrides: dict | None = None, key: str = "ckpt", task: str = "") -> SeqTask:
    """The head of a checkpoint, rebuilt from its hyperparameters (``overrides`` replace some, e.g.
    ``{"beam_size": 1}``) with its trained weights, on the CPU. ``task``: the head (class path) the checkpoint's
    run was configured with; a checkpoint of another head is refused (a file copied between runs), and one that
    does not name its head (seqexp 0.1.0) is taken to be one."""
    saved = load_checkpoint(path, key)
    trained = saved.get("seqexp_task", task)
    if task and trained != task:
        raise ConfigError(f"{key}: {path} was trained by {trained}, but its run's config (.hydra/config.yaml) is "
                          f"for {task}: the checkpoint does not belong to that run")
    try:
        head = get_class(trained)
    except Exception:  # noqa: BLE001 - an unknown or missing class name
        raise ConfigError(f"{key}: {path} was written by an unknown head {trained!r}") from None
    hparams = {**upgrade(dict(saved["hyper_parameters"])), **(overrides or {})}
    try:
        model = head(**hparams)
    except (TypeError, ValueError, KeyError) as e:  # settings this seqexp's head does not take
        raise ConfigError(f"{key}: {path}: its settings do not fit {head.__name__} ({first_line(e)})") from None
    check_fits(saved["state_dict"], model, f"{key}: {path}")
    model.load_state_dict(saved["state_dict"])
    return model



def check_fits(state: dict, model: torch.nn.Module, what: str) -> None:
    """Refuse weights that do not fit ``model`` (another model or data config), naming the first that differs;
    ``load_state_dict`` would fail with a wall of size mismatches."""
    mine = model.state_dict()
    for name in sorted(state.keys() ^ mine.keys()):
        where = "only in the checkpoint" if name in state else "missing from the checkpoint"
        raise ConfigError(f"{what} does not fit this model: {name} is {where}")
    for name, value in mine.items():
        if state[name].shape != value.shape:
            raise ConfigError(f"{what} does not fit this model: {name} is {list(state[name].shape)} "
                              f"there, {list(value.shape)} here (a different model or data config)")


EMBEDDINGS = {"encoder.embedding.weight": "vocab", "encoder.chars.embedding.weight": "chars"}
HEAD_VOCABS = ("labels", "target_vocab", "feature_dim")  # a head's weights carry over where these agree


@torch.no_grad()
def initialise_from(model: SeqTask, path: str | Path) -> None:
    """Start ``model`` from a checkpoint's weights (``model.init_from``): the encoder's tensors whose names and
    shapes agree (a language model's forward LSTM, say), the word and character embeddings row by row through
    the two vocabularies (a word both know keeps its vector), and the head's own tensors when the checkpoint is
    the same head over the same labels. What is taken and what is not is logged."""
    saved = load_checkpoint(path, "model.init_from")
    theirs, mine = saved["state_dict"], model.state_dict()
    their_vocabs, my_vocabs = Vocabs.from_args(saved["hyper_parameters"]), model.vocabs
    same_head = saved.get("seqexp_task") == f"{type(model).__module__}.{type(model).__name__}" and all(
        saved["hyper_parameters"].get(k) == model.hparams.get(k) for k in HEAD_VOCABS)
    taken, rows = [], {}
    for name, value in mine.items():
        if name not in theirs or not (name.startswith("encoder.") or same_head):
            continue
        if name in EMBEDDINGS and getattr(their_vocabs, EMBEDDINGS[name]) is not None:
            rows[name] = _copy_rows(value, theirs[name], getattr(their_vocabs, EMBEDDINGS[name]),
                                    getattr(my_vocabs, EMBEDDINGS[name]))
        elif theirs[name].shape == value.shape:
            value.copy_(theirs[name])
        else:
            continue
        taken.append(name)
    if not taken:
        raise ConfigError(f"model.init_from: {path} has no weights that fit this model (another encoder size?)")
    log.info("model.init_from: %d of %d tensors from %s%s; %s", len(taken), len(mine), path,
             "".join(f", {n} {k:,} rows by word" for n, k in rows.items()),
             "the head's too" if same_head else "a new head")


def _copy_rows(mine: torch.Tensor, theirs: torch.Tensor, their_vocab: Vocab, my_vocab: Vocab) -> int:
    """Copy the embedding rows of the entries both vocabularies hold (when the widths agree); returns how many."""
    if mine.shape[1:] != theirs.shape[1:]:
        return 0
    pairs = [(i, their_vocab.stoi[w]) for i, w in enumerate(my_vocab.itos) if w in their_vocab.stoi]
    if pairs:
        index = torch.tensor(pairs)  # [N, 2]
        mine[index[:, 0]] = theirs[index[:, 1]].to(mine.dtype)
    return len(pairs)
