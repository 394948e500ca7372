"""``python -m seqexp.evaluate ckpt=RUN/checkpoints/x.ckpt [split=test] [key=value ...]``: re-score a checkpoint.

The data config comes from the run's ``.hydra/config.yaml`` (``data.test=other.tsv`` points it elsewhere) and
the vocabularies from the checkpoint; ``task.*`` keys override the head's saved settings (``task.beam_size=1``).
Prints the metrics as JSON and writes them to ``RUN/evaluate-{split}.json``.

``ckpt=[A,B,...]`` or ``sweep=DIR`` (the best checkpoint of each run of a multirun, e.g. over seeds) score an
ensemble of classifiers or taggers instead (``SeqTask.join``), written to ``ensemble-{split}.json`` in the
runs' common parent directory.
"""

import json
import sys
from dataclasses import dataclass
from typing import Any, Literal

from seqexp.run.cli import parse, run_cli
from seqexp.run.runs import checkpoint_paths
from seqexp.run.score import score


@dataclass
class Options:
    ckpt: Any = None  # a path, or a [list] of paths: an ensemble
    sweep: str | None = None  # a multirun dir: the best checkpoint of each of its runs
    split: Literal["val", "test"] = "test"


def evaluate(args: list[str]) -> dict:
    options, others = parse(args, Options, overrides=True)
    overrides = [(o.key_or_group, o.value()) for o in others]
    return score(checkpoint_paths(options.ckpt, options.sweep), options.split, overrides)


def main(args: list[str]) -> None:
    print(json.dumps(evaluate(args), indent=2))


if __name__ == "__main__":
    sys.exit(run_cli(main))
