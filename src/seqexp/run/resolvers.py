"""OmegaConf resolvers used by the configs in conf/."""

from pathlib import Path

from omegaconf import OmegaConf

CORPORA = Path(__file__).parents[1] / "data" / "corpora"


def corpus(name: str) -> str:
    """Path of a corpus file bundled with the package, e.g. ``${corpus:trec/TREC_10.label.gz}``."""
    return str(CORPORA / name)


def sqlite(path: str) -> str:
    """An sqlite URL for ``path``, creating its folder: Optuna opens the study before Hydra makes the sweep dir."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(path).resolve()}"


def optuna_direction(mode: str) -> str:
    """``monitor_mode`` (max / min) in Optuna's words."""
    return {"max": "maximize", "min": "minimize"}[mode]


OmegaConf.register_new_resolver("corpus", corpus, replace=True)
OmegaConf.register_new_resolver("sqlite", sqlite, replace=True)
OmegaConf.register_new_resolver("optuna_direction", optuna_direction, replace=True)
