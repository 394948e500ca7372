"""OmegaConf resolvers used by the configs in conf/."""

from pathlib import Path

from omegaconf import OmegaConf

CORPORA = Path(__file__).parent / "data" / "corpora"


def corpus(name: str) -> str:
    """Path of a corpus file bundled with the package, e.g. ``${corpus:trec/TREC_10.label.gz}``."""
    return str(CORPORA / name)


OmegaConf.register_new_resolver("corpus", corpus, replace=True)
