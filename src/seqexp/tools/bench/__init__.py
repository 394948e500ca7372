"""``python -m seqexp.bench``: what using seqexp costs over hand-written PyTorch, measured side by side.

Sections (each can be picked with ``sections=``):

- ``training``: for each (task, model), the real config (Hydra compose API) builds the data module and the head
  exactly as ``seqexp.train`` does (``seqexp.run.build``); the first ``warmup + steps`` batches of the train loader
  are materialised once, then the same batches in the same order train (a) a plain PyTorch loop
  (``head.step(batch, "train")`` loss, backward, ``clip_grad_norm_``, ``optimizer.step``, ``zero_grad``) and (b) a
  Lightning Trainer built from the trainer config, each on a freshly built model with the same seed. Rounds
  alternate plain, seqexp, plain, seqexp; the best round of each counts. Only the ``steps`` batches after the
  warm-up are timed.
- ``padding``: padded / all token positions over one epoch of each bundled corpus' train batch sampler, with length
  bucketing on (the default) and off (``data.bucket=false``).
- ``encoder``: forward + backward of one Encoder step, ``impl=scratch`` (lstm, lnlstm, indrnn, mingru, minlstm) vs
  ``impl=cudnn`` (lstm).
- ``scan``: the same at T=512 in one direction: minGRU and minLSTM (their parallel scan) against the scratch GRU
  (its loop over steps) and torch.nn's GRU.
- ``decoding``: seq2seq greedy and beam-5 translation speed (random weights) in sentences/s.
- ``packing``: a BiLSTM step packed as torch packs it, as seqexp packs it (host-sorted), and not packed
  (``seqexp.tools.bench.packing``).

Prints a table per section and writes everything to a JSON file (``out=``). A benchmark, not a test: nothing
here asserts a target. Other ``key=value`` arguments are overrides for every config (``trainer=gpu``).
"""

import json
import math
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, get_args

import pytorch_lightning as pl
import torch
from hydra.core.global_hydra import GlobalHydra

from seqexp.constraints import Positive
from seqexp.run.cli import parse, quiet
from seqexp.tools.bench.device import bench_crf, gpu_tests
from seqexp.tools.bench.machine import other_seqexp_processes, peak_rss_mb
from seqexp.tools.bench.packing import bench_packing
from seqexp.tools.bench.render import NOTES, render
from seqexp.tools.bench.sections import (
    SCAN_ENCODERS,
    SCAN_SHAPE,
    bench_decoding,
    bench_encoders,
    bench_padding,
    bench_training,
)

Section = Literal["training", "padding", "encoder", "scan", "decoding", "packing", "crf", "gpu_tests"]
SECTIONS = get_args(Section)
CPU_SECTIONS = SECTIONS[:6]  # the default; crf and gpu_tests are the device check's
# bundled corpus -> the task whose config reads it by default (lm streams text in BPTT windows: no bucketing)
CORPORA = {"trec": "classify", "wnut17": "ner", "ud_ewt": "pos", "tatoeba": "seq2seq"}


@dataclass
class Options:
    tasks: list[str] = field(default_factory=lambda: ["classify", "ner", "pos"])
    models: list[str] = field(default_factory=lambda: ["lstm", "bilstm", "gru"])
    steps: Annotated[int, Positive] = 200  # timed training steps per loop
    warmup: Annotated[int, Positive] = 5  # untimed training steps first
    rounds: Annotated[int, Positive] = 2  # alternating rounds of every timed section, best counts
    sections: list[Section] = field(default_factory=lambda: list(CPU_SECTIONS))
    threads: int | None = None  # torch.set_num_threads (default: torch's own)
    out: str = "bench.json"  # JSON results file; the printed tables go beside it (.txt)
    quick: bool = False  # tiny encoder and decoding sections (smoke tests)
    device_check: bool = False  # every section, trainer=gpu: the one command a GPU session runs (README)
    dry_run: bool = False  # with device_check: the same code on the CPU at tiny sizes


def _options(argv: list[str]) -> tuple[Options, list[str]]:
    options, others = parse(argv, Options, overrides=True)
    overrides = [o.input_line for o in others]
    if options.device_check:
        options.sections = list(SECTIONS)
        if options.dry_run:
            options.steps, options.warmup, options.rounds, options.quick = 2, 1, 1, True
        else:
            overrides = ["trainer=gpu", *overrides]
    return options, overrides


def _step(label: str, fn: Callable, *a):
    """Run one row or section; note other seqexp processes seen just before or just after it (``other_load``)."""
    before, start = other_seqexp_processes(), time.perf_counter()
    out = fn(*a)
    others = sorted(set(before) | set(other_seqexp_processes()))
    if isinstance(out, dict):
        out["seconds_total"] = round(time.perf_counter() - start, 1)
        out["other_load"] = others
    print(f"[bench] {label}: {time.perf_counter() - start:.1f} s" + (" (OTHER seqexp PROCESSES RAN)" if others
                                                                      else ""), file=sys.stderr, flush=True)
    return out


def main(argv: list[str]) -> dict:
    args, overrides = _options(argv)
    quiet()
    for message in (".*smaller than the logging interval.*", ".*Trying to infer the `batch_size`.*",
                    ".*`max_epochs` was not set.*", ".*val_dataloader.*", ".*num_workers.*"):
        warnings.filterwarnings("ignore", message=message)
    if args.threads:
        torch.set_num_threads(args.threads)
    others = other_seqexp_processes()
    result = {"meta": {
        "command": " ".join(["python -m seqexp.bench", *argv]),
        "torch": torch.__version__, "lightning": pl.__version__, "python": platform.python_version(),
        "threads": torch.get_num_threads(), "threads_set": args.threads is not None, "cpu_count": os.cpu_count(),
        "device": "cuda" if torch.cuda.is_available() else "cpu", "steps": args.steps, "warmup": args.warmup,
        "rounds": args.rounds, "quick": args.quick, "overrides": overrides,
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "other_seqexp_processes": others, "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }, "training": [], "padding": [], "encoder": None, "scan": None, "decoding": None, "packing": None, "crf": None,
        "gpu_tests": None, "notes": NOTES}
    if others:
        print("[bench] WARNING: other seqexp processes are running, numbers will be skewed:\n  "
              + "\n  ".join(others), file=sys.stderr)
    cache: dict = {}
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # encoder and decoding sections
    with tempfile.TemporaryDirectory(prefix="seqexp-bench-") as root:
        try:
            if "training" in args.sections:
                for task in args.tasks:
                    for model in args.models:
                        result["training"].append(_step(f"training {task} {model}", bench_training, task, model,
                                                        args, root, cache, overrides))
            if "padding" in args.sections:
                for corpus, task in CORPORA.items():
                    result["padding"].append(_step(f"padding {corpus}", bench_padding, corpus, task, root, cache,
                                                   overrides))
            if "encoder" in args.sections:
                result["encoder"] = _step("encoder step", bench_encoders, 3 if args.quick else 30,
                                          1 if args.quick else args.rounds, device)
            if "scan" in args.sections:  # quick: a short sequence, the same rows
                shape = {**SCAN_SHAPE, "steps": 32} if args.quick else SCAN_SHAPE
                result["scan"] = _step("parallel scan", bench_encoders, 3 if args.quick else 10,
                                       1 if args.quick else args.rounds, device, shape, SCAN_ENCODERS,
                                       ("scratch", "gru"))
            if "decoding" in args.sections:
                result["decoding"] = _step("seq2seq decoding", bench_decoding, root, cache, 1 if args.quick else 6,
                                           1 if args.quick else args.rounds, overrides, device)
            if "packing" in args.sections:
                result["packing"] = _step("packing", bench_packing, 3 if args.quick else 50, 1 if args.quick else 3,
                                          device)
            if "crf" in args.sections:
                result["crf"] = _step("BiLSTM-CRF", bench_crf, device, [8] if args.quick else [32, 256, 1024],
                                      args.steps, args.warmup)
            if "gpu_tests" in args.sections:
                result["gpu_tests"] = _step("pytest -m gpu", gpu_tests, Path(args.out))
        finally:
            GlobalHydra.instance().clear()
    result["meta"]["peak_rss_mb"] = peak_rss_mb()
    result["meta"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    result["meta"]["other_seqexp_processes_at_end"] = other_seqexp_processes()
    if any(not math.isfinite(r["ratio"]) for r in result["training"]):
        result["notes"].append("a ratio is not finite: a loop measured no time")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    tables = render(result)
    Path(args.out).with_suffix(".txt").write_text(tables + "\n")
    print(tables)
    print(f"\nwrote {args.out} and {Path(args.out).with_suffix('.txt')}")
    return result
