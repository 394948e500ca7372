"""``python -m seqexp.export ckpt=RUN/checkpoints/x.ckpt [format=torchscript|onnx] [out=DIR]``: a trained
classifier or tagger (CRF included) as a file that runs without seqexp, plus model.json (vocabularies, labels,
tokenizer settings, scheme), in ``RUN/export/`` by default. README's "Export" shows the lines that run it."""

import sys
from dataclasses import dataclass
from pathlib import Path

from seqexp.errors import ConfigError
from seqexp.run.cli import parse, run_cli
from seqexp.run.export import export


@dataclass
class Options:
    ckpt: str | None = None
    format: str = "torchscript"  # or onnx
    out: str | None = None  # default: the run's export/ dir


def main(args: list[str]) -> Path:
    options, _ = parse(args, Options)
    if options.ckpt is None:
        raise ConfigError("ckpt: which checkpoint? e.g. ckpt=outputs/2026-11-23/12-00-00/checkpoints/epoch07.ckpt")
    return export(Path(options.ckpt), options.format, Path(options.out) if options.out else None)


if __name__ == "__main__":
    sys.exit(run_cli(main))
