"""The one build path from a composed config to the data module, the head and the trainer: ``python -m seqexp``,
evaluation, the benchmark and the tests all go through it, so sizes flow from the data to the model the same
way everywhere."""

from pathlib import Path

import pytorch_lightning as pl
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from seqexp.data.base import SeqDataModule
from seqexp.data.vocab import Vocabs
from seqexp.run.checkpoints import initialise_from
from seqexp.tasks.base import SeqTask

CONF = str(Path(__file__).resolve().parents[3] / "conf")


def compose_config(overrides: list[str], output_dir: str | Path) -> DictConfig:
    """The config ``python -m seqexp *overrides`` would run, its Hydra run dir set to ``output_dir``, and set as
    the current Hydra config (``${hydra:runtime.output_dir}`` resolves); for code that builds runs without
    ``hydra.main``: the benchmark and the tests."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    return cfg


def plain_dict(node) -> dict | None:
    """Config -> plain dict, so hyperparameters in checkpoints need no OmegaConf to load."""
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


def build_data(cfg: DictConfig, vocabs: Vocabs | None = None, stage: str = "fit") -> SeqDataModule:
    """The data module of ``cfg.data``, fetched and set up: vocabularies built on train, or ``vocabs`` (a trained
    model's) used as they are."""
    data = instantiate(cfg.data, seed=cfg.seed, chars=_reads_chars(cfg, vocabs))
    if vocabs is not None:
        data.use_vocabs(vocabs)
    data.prepare_data()
    data.setup(stage)
    return data


def _reads_chars(cfg: DictConfig, vocabs: Vocabs | None) -> bool:
    return vocabs.chars is not None if vocabs is not None else cfg.model.get("char", "none") != "none"


def build_model(cfg: DictConfig, data: SeqDataModule) -> SeqTask:
    """The head of ``cfg.task`` with the encoder of ``cfg.model``, sized by the data's vocabularies, started from
    ``model.init_from``'s weights when set. Not recursive: the head builds its encoder and optimizer itself, from
    plain dicts it saves in checkpoints."""
    encoder = plain_dict(cfg.model)
    source = encoder.pop("init_from", None)  # not a setting of the model: what it starts from
    model = instantiate(cfg.task, encoder=encoder, optimizer=plain_dict(cfg.optimizer),
                        scheduler=plain_dict(cfg.scheduler), pretrained=data.vectors, **data.vocabs.as_args(),
                        _recursive_=False, _convert_="all")
    if source:
        initialise_from(model, source)
    return model


def build_trainer(cfg: DictConfig, **overrides) -> pl.Trainer:
    """The trainer of ``cfg.trainer`` with the run's callbacks (``callbacks.X=null`` switches one off) unless
    ``overrides`` say otherwise (``callbacks=[...]``, ``logger=False``, ``max_steps=...``)."""
    overrides.setdefault("callbacks", instances(cfg.get("callbacks")))
    return instantiate(cfg.trainer, **overrides)


def instances(group: DictConfig | None) -> list:
    """Instantiate every entry of a callbacks/logger group; ``null`` entries are switched off."""
    return [instantiate(c) for c in (group or {}).values() if c is not None]
