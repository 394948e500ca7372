"""The runs below some folders, finished or not, and what tells them apart: what the report, the results table and
the horizon picture compare."""

import os
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from seqexp.run.rundir import RunDir


@dataclass
class Run:
    """One run directory; ``result`` is its metrics.json, None while the run failed or is not finished."""

    path: Path
    name: str
    overrides: dict[str, str]
    result: dict | None


def collect_runs(dirs: list[Path]) -> list[Run]:
    """Every run directory (one with metrics.json or .hydra/) below ``dirs``, finished or not.

    Runs are named relative to the dirs' common parent, so names stay short and still tell sweeps apart.
    """
    tops = [Path(d).resolve() for d in dirs]
    root = Path(os.path.commonpath(tops)) if tops else Path()
    found: dict[Path, Run] = {}  # keyed by path: overlapping DIRs (outputs and outputs/multirun) list a run once
    for top in tops:
        for here, subdirs, _ in os.walk(top):
            subdirs.sort()
            run = RunDir(Path(here))
            if not run.finished() and not run.config.parent.is_dir():
                continue
            subdirs.clear()  # checkpoints/, csv/ and .hydra/ hold no further runs
            name = run.path.relative_to(root).as_posix() if run.path != root else run.path.name
            result = run.result()
            found[run.path] = Run(run.path, name, overrides(run, result), result)
    return list(found.values())


def overrides(run: RunDir, result: dict | None) -> dict[str, str]:
    """The run's command-line overrides as key -> value; a failed run only has Hydra's overrides.yaml."""
    if result is not None:
        items = result["overrides"]
    elif run.overrides.is_file():
        items = OmegaConf.to_container(OmegaConf.load(run.overrides))
    else:
        items = []
    pairs = (str(item).partition("=") for item in items)
    return {key.lstrip("+~"): value for key, _, value in pairs}  # +key / ++key / ~key set the same key


def varying(runs: list[Run]) -> list[str]:
    """Override keys whose value (or presence) differs between runs: what the comparison is about."""
    keys = dict.fromkeys(k for r in runs for k in r.overrides)  # first-seen order: the command line's
    return [k for k in keys if len({r.overrides.get(k) for r in runs}) > 1]


def label(run: Run, keys: list[str]) -> str:
    """A run's differing overrides, ``model=gru model.hidden_size=64``; its name when nothing differs."""
    return " ".join(f"{k}={run.overrides[k]}" for k in keys if k in run.overrides) or run.name
