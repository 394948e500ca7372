"""``python -m seqexp.bench``: what using seqexp costs over hand-written PyTorch, measured side by side.

Sections (each can be picked with ``--sections``):

- ``training``: for each (task, model), the real config (Hydra compose API) builds the data module and the head
  exactly as ``seqexp.train`` does; the first ``warmup + steps`` batches of the train loader are materialised once,
  then the same batches in the same order train (a) a plain PyTorch loop (``head.step(batch)`` loss, backward,
  ``clip_grad_norm_``, ``optimizer.step``, ``zero_grad``) and (b) a Lightning Trainer built from the trainer config,
  each on a freshly built model with the same seed. Rounds alternate plain, seqexp, plain, seqexp; the best round
  of each counts. Only the ``steps`` batches after the warm-up are timed.
- ``padding``: padded / all token positions over one epoch of each bundled corpus' train batch sampler, with length
  bucketing on (the default) and off (``data.bucket=false``).
- ``encoder``: forward + backward of one Encoder step, ``impl=scratch`` (lnlstm, lstm) vs ``impl=cudnn`` (lstm).
- ``decoding``: seq2seq greedy and beam-5 translation speed (random weights) in sentences/s.

Prints a table per section and writes everything to a JSON file (``--out``). A benchmark, not a test: nothing
here asserts a target.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from torch.utils.data import DataLoader

from seqexp import resolvers  # noqa: F401  (registers ${corpus:...})
from seqexp.callbacks import StepSeed
from seqexp.data.batching import padding_ratio
from seqexp.encoders import Encoder
from seqexp.train import CONF, plain_dict, quiet

TASKS = ("classify", "ner", "pos")
MODELS = ("lstm", "bilstm", "gru")
# bundled corpus -> the task whose config reads it by default (lm streams text in BPTT windows: no bucketing)
CORPORA = {"trec": "classify", "wnut17": "ner", "ud_ewt": "pos", "tatoeba": "seq2seq"}
SECTIONS = ("training", "padding", "encoder", "decoding")
ENCODER_SHAPE = {"batch": 32, "steps": 40, "embedding_dim": 100, "hidden_size": 128, "bidirectional": True}
ENCODERS = (("cudnn", "lstm"), ("scratch", "lstm"), ("scratch", "lnlstm"))
MEMORY_NOTE = ("peak RSS = resource.getrusage(RUSAGE_SELF).ru_maxrss read right after each section/row: the "
               "process-wide high-water mark of resident memory, monotone over the run, so a row shows the peak "
               "of everything run up to it (sections run in the order printed); tracemalloc is not used since "
               "it does not see torch's tensor allocations.")


# -- configs, data, heads: the code path of seqexp.train ----------------------------------------------------
def compose_cfg(overrides: list[str], output_dir: str) -> DictConfig:
    """The config ``python -m seqexp *overrides`` would run, its Hydra output dir set to ``output_dir``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = output_dir
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    return cfg


def build_data(cfg: DictConfig, cache: dict | None = None):
    """``instantiate(cfg.data, ...)`` and ``setup("fit")`` as in seqexp.train. ``cache`` shares the encoded
    datasets between modules of the same data config (the bucket setting only changes the loader)."""
    data = instantiate(cfg.data, seed=cfg.seed, chars=cfg.model.get("char", "none") != "none")
    if cache is not None:
        key = OmegaConf.to_yaml({k: v for k, v in cfg.data.items() if k != "bucket"}) + str(data.use_chars)
        if key in cache:
            data.__dict__.update({k: v for k, v in cache[key].__dict__.items()
                                  if k in ("datasets", "vocab", "chars", "labels", "target_vocab", "vectors")})
        else:
            data.setup("fit")
            cache[key] = data
    data.setup("fit")
    return data


def build_head(cfg: DictConfig, data) -> pl.LightningModule:
    """The head as seqexp.train builds it, after seeding as it does: the same seed, the same initial weights."""
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    return instantiate(cfg.task, encoder=plain_dict(cfg.model), optimizer=plain_dict(cfg.optimizer),
                       scheduler=plain_dict(cfg.scheduler), pretrained=data.vectors, **data.model_args(),
                       _recursive_=False, _convert_="all")


def first_batches(data, n: int) -> list[dict[str, torch.Tensor]]:
    """The first ``n`` batches of the train loader (next epochs' batches if one epoch has fewer)."""
    loader, batches, epoch = data.train_dataloader(), [], 0
    while len(batches) < n:
        if hasattr(loader.batch_sampler, "set_epoch"):
            loader.batch_sampler.set_epoch(epoch)
        before = len(batches)
        for batch in loader:
            batches.append(batch)
            if len(batches) == n:
                break
        if len(batches) == before:
            raise RuntimeError("the train loader yields no batches")
        epoch += 1
    return batches


def batch_tokens(batches: Iterable[dict[str, torch.Tensor]]) -> tuple[int, int]:
    """(real tokens = sum of lengths, padded positions = batch size x longest) of these batches."""
    real = padded = 0
    for b in batches:
        real += int(b["lengths"].sum())
        padded += b["lengths"].numel() * int(b["lengths"].max())
    return real, padded


# -- timing -----------------------------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Clock(pl.Callback):
    """Wall time from the end of the last warm-up batch to the end of the last batch: ``steps`` full iterations,
    data fetching, hooks, logging and the optimizer step included."""

    def __init__(self, warmup: int, total: int):
        self.warmup, self.total = warmup, total
        self.start = self.end = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if batch_idx in (self.warmup - 1, self.total - 1):
            _sync(pl_module.device)
            now = time.perf_counter()
            if batch_idx == self.warmup - 1:
                self.start = now
            if batch_idx == self.total - 1:
                self.end = now


def _loader(batches: list[dict[str, torch.Tensor]]) -> DataLoader:
    """Pre-made batches, as they are, in order (``batch_size=None``: no re-batching, no collation)."""
    return DataLoader(batches, batch_size=None, shuffle=False)


def _trainer(cfg: DictConfig, total: int, callbacks: list, root: str) -> pl.Trainer:
    """The configured trainer minus what is not training: no logger, checkpoints, progress bar, validation."""
    return instantiate(cfg.trainer, callbacks=callbacks, logger=False, enable_checkpointing=False,
                       enable_progress_bar=False, enable_model_summary=False, max_steps=total, max_epochs=-1,
                       limit_val_batches=0, num_sanity_val_steps=0, default_root_dir=root)


def run_seqexp(cfg: DictConfig, data, batches: list, warmup: int, root: str) -> float:
    """Seconds for the timed steps of ``Trainer.fit`` (the run's default callbacks that train: StepSeed)."""
    model = build_head(cfg, data)
    clock = _Clock(warmup, len(batches))
    trainer = _trainer(cfg, len(batches), [StepSeed(cfg.seed), clock], root)
    trainer.fit(model, train_dataloaders=_loader(batches))
    if clock.start is None or clock.end is None:
        raise RuntimeError(f"the trainer ran {trainer.global_step} of {len(batches)} steps")
    return clock.end - clock.start


def run_plain(cfg: DictConfig, data, batches: list, warmup: int, device: torch.device) -> float:
    """Seconds for the timed steps of the hand-written loop over the same model, batches and optimizer."""
    model = build_head(cfg, data).to(device)
    model.train()
    optimizer = model.configure_optimizers()
    if isinstance(optimizer, dict):
        optimizer = optimizer["optimizer"]
    params = [p for group in optimizer.param_groups for p in group["params"]]
    clip = cfg.trainer.get("gradient_clip_val")
    clip_by = (torch.nn.utils.clip_grad_value_ if cfg.trainer.get("gradient_clip_algorithm") == "value"
               else torch.nn.utils.clip_grad_norm_)  # Lightning's default: norm
    start = None
    for i, batch in enumerate(_loader(batches)):
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        loss = model.step(batch)[0]
        loss.backward()
        if clip:
            clip_by(params, clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if i == warmup - 1:
            _sync(device)
            start = time.perf_counter()
    _sync(device)
    return time.perf_counter() - start


def peak_rss_mb() -> float:
    """Process-wide peak resident memory so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


# -- sections ---------------------------------------------------------------------------------------------
def bench_training(task: str, model: str, args, root: str, cache: dict, extra: list[str]) -> dict:
    cfg = compose_cfg([f"task={task}", f"model={model}", *extra], root)
    data = build_data(cfg, cache)
    batches = first_batches(data, args.warmup + args.steps)
    real, padded = batch_tokens(batches[args.warmup:])
    device = _trainer(cfg, 1, [], root).strategy.root_device
    times: dict[str, list[float]] = {"plain": [], "seqexp": []}
    for _ in range(args.rounds):
        for name in ("plain", "seqexp"):
            gc.collect()
            if name == "plain":
                times[name].append(run_plain(cfg, data, batches, args.warmup, device))
            else:
                times[name].append(run_seqexp(cfg, data, batches, args.warmup, root))
    loops = {name: {"seconds": round(min(ts), 4), "tokens_per_s": round(real / min(ts), 1),
                    "rounds_tokens_per_s": [round(real / t, 1) for t in ts]} for name, ts in times.items()}
    return {"task": task, "model": model, "data": cfg.data._target_.rsplit(".", 1)[-1],
            "corpus": HydraConfig.get().runtime.choices.get("data"), "device": str(device),
            "steps": args.steps, "warmup": args.warmup, "tokens": real,
            "padding": round(1 - real / padded, 4), **loops,
            "ratio": round(loops["seqexp"]["tokens_per_s"] / loops["plain"]["tokens_per_s"], 4),
            "peak_rss_mb": peak_rss_mb()}


def bench_padding(corpus: str, task: str, root: str, cache: dict, extra: list[str]) -> dict:
    row = {"corpus": corpus, "task": task}
    for bucket in (True, False):
        cfg = compose_cfg([f"task={task}", f"data={corpus}", f"data.bucket={str(bucket).lower()}", *extra], root)
        data = build_data(cfg, cache)
        sampler = data.train_dataloader().batch_sampler
        sampler.set_epoch(0)
        train = data.datasets["train"]
        key = "bucket_on" if bucket else "bucket_off"
        row[key] = round(padding_ratio([len(x["tokens"]) for x in train], iter(sampler)), 4)
        if "target" in train[0]:  # seq2seq: the decoder pays for target padding in the same batches
            row[f"target_{key}"] = round(padding_ratio([len(x["target"]) - 1 for x in train], iter(sampler)), 4)
        row.update(examples=len(train), batches=len(sampler), batch_size=data.batch_size)
    row["peak_rss_mb"] = peak_rss_mb()
    return row


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def bench_encoders(reps: int, rounds: int, device: torch.device) -> dict:
    b, t = ENCODER_SHAPE["batch"], ENCODER_SHAPE["steps"]
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(t // 2, t + 1, (b,), generator=g)
    lengths[0] = t
    tokens = torch.randint(1, 5000, (b, t), generator=g).masked_fill(torch.arange(t)[None] >= lengths[:, None], 0)
    tokens, lengths = tokens.to(device), lengths.to(device)
    encoders = {}
    for impl, cell in ENCODERS:
        torch.manual_seed(0)
        encoders[f"{impl}/{cell}"] = Encoder(5000, cell=cell, impl=impl, embedding_dim=ENCODER_SHAPE["embedding_dim"],
                                             hidden_size=ENCODER_SHAPE["hidden_size"],
                                             bidirectional=ENCODER_SHAPE["bidirectional"]).to(device)

    def step(enc: Encoder) -> None:
        out, final, _ = enc(tokens, lengths)
        (out.sum() + final.sum()).backward()
        enc.zero_grad(set_to_none=True)

    ms: dict[str, list[float]] = {k: [] for k in encoders}
    for enc in encoders.values():  # warm-up
        for _ in range(3):
            step(enc)
    for _ in range(rounds):  # alternate, so drifting load hits every encoder alike
        for name, enc in encoders.items():
            times = []
            for _ in range(reps):
                _sync(device)
                start = time.perf_counter()
                step(enc)
                _sync(device)
                times.append(time.perf_counter() - start)
            ms[name].append(_median(times) * 1000)
    rows = [{"impl": k.split("/")[0], "cell": k.split("/")[1], "ms_per_step": round(min(v), 3),
             "rounds_ms": [round(x, 3) for x in v]} for k, v in ms.items()]
    base = min(ms["cudnn/lstm"])
    for row in rows:
        row["ratio_vs_cudnn_lstm"] = round(row["ms_per_step"] / base, 3)
    return {"shape": ENCODER_SHAPE, "device": str(device), "reps": reps, "rounds": rounds,
            "statistic": "best round of per-round medians",
            "rows": rows, "peak_rss_mb": peak_rss_mb()}


def bench_decoding(root: str, cache: dict, n_batches: int, rounds: int, extra: list[str],
                   device: torch.device) -> dict | None:
    try:
        from seqexp.tasks.seq2seq import Seq2Seq  # noqa: F401
    except ImportError:
        return None
    cfg = compose_cfg(["task=seq2seq", "model=bigru", *extra], root)
    data = build_data(cfg, cache)
    model = build_head(cfg, data).eval().to(device)
    val = list(data.val_dataloader())  # sorted by length: take batches spread over it
    picks = sorted({round(i * (len(val) - 1) / max(1, n_batches - 1)) for i in range(min(n_batches, len(val)))})
    batches = [{k: v.to(device) for k, v in val[i].items()} for i in picks]
    sentences = sum(int(b["lengths"].numel()) for b in batches)
    pad, rows = model.target_vocab.pad_index, []
    with torch.inference_mode():
        model.translate(batches[0], beam_size=1)  # warm-up
        for beam in (1, 5):
            best, words = math.inf, 0
            for _ in range(rounds):
                _sync(device)
                start, words = time.perf_counter(), 0
                for b in batches:
                    words += int((model.translate(b, beam_size=beam) != pad).sum())  # up to <eos> included
                _sync(device)
                best = min(best, time.perf_counter() - start)
            rows.append({"beam_size": beam, "sentences": sentences, "seconds": round(best, 4),
                         "sentences_per_s": round(sentences / best, 1), "mean_output_len": round(words / sentences, 1)})
    return {"config": "task=seq2seq model=bigru", "device": str(device),
            "weights": "random (untrained): hypotheses rarely end in <eos>, "
            "so most run to task.max_len, the slowest case", "max_len": cfg.task.max_len,
            "batches": len(batches), "rounds": rounds, "statistic": "best round", "rows": rows,
            "peak_rss_mb": peak_rss_mb()}


# -- output -----------------------------------------------------------------------------------------------
def _ancestors() -> set[int]:
    """This process and its parents (the shell or test that started the benchmark is not "other load")."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def other_seqexp_processes() -> list[str]:
    """Command lines of other running seqexp processes (training jobs, test runs): they skew every number here."""
    if not os.path.isdir("/proc"):
        return []
    found, mine = [], _ancestors()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) in mine:
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if "seqexp" in cmd and "python" in cmd:
            found.append(f"{pid}: {cmd[:160]}")
    return found


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)

    def fmt(r: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))

    return "\n".join([fmt(headers), line, *(fmt(r) for r in cells)])


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _mark(row: dict) -> str:
    return "*" if row.get("other_load") else ""


def render(result: dict) -> str:
    meta, out = result["meta"], []
    out.append(f"seqexp.bench  torch {meta['torch']}  lightning {meta['lightning']}  threads {meta['threads']}  "
               f"cpus {meta['cpu_count']}  device {meta['device']}")
    rows = [*result.get("training", []), *result.get("padding", []), result.get("encoder"), result.get("decoding")]
    if meta["other_seqexp_processes"] or any(r and r.get("other_load") for r in rows):
        out.append("WARNING: other seqexp processes ran during this benchmark (rows marked *): timings are skewed")
    out.append(f"load average at start {meta['loadavg_at_start']}, at end {meta.get('loadavg_at_end')}")
    if result.get("training"):
        rows = [[r["task"] + _mark(r), r["model"], r["tokens"], pct(r["padding"]),
                 f"{r['plain']['tokens_per_s']:,.0f}", f"{r['seqexp']['tokens_per_s']:,.0f}", f"{r['ratio']:.3f}",
                 r["peak_rss_mb"]]
                for r in result["training"]]
        out += ["", f"Training throughput: {meta['steps']} timed steps after {meta['warmup']} warm-up, same batches "
                f"in the same order; rounds alternate plain, seqexp, plain, seqexp ...; best of {meta['rounds']} "
                f"round(s) per loop; device {result['training'][0]['device']}",
                table(["task", "model", "tokens", "padding", "plain tok/s", "seqexp tok/s", "ratio", "peak RSS MB"],
                      rows)]
    if result.get("padding"):
        rows = [[r["corpus"], r["task"], r["batches"], pct(r["bucket_off"]), pct(r["bucket_on"]),
                 f"{pct(r.get('target_bucket_off'))} -> {pct(r.get('target_bucket_on'))}"
                 if "target_bucket_on" in r else "-", r["peak_rss_mb"]] for r in result["padding"]]
        out += ["", "Padding waste (padded / all positions, one train epoch)",
                table(["corpus", "task", "batches", "bucket off", "bucket on", "target off -> on", "peak RSS MB"],
                      rows)]
    if result.get("encoder"):
        enc = result["encoder"]
        shape = enc["shape"]
        out += ["", f"Encoder step{_mark(enc)}, forward + backward: B={shape['batch']} T={shape['steps']} "
                f"E={shape['embedding_dim']} H={shape['hidden_size']} bidirectional ({enc['statistic']}, "
                f"{enc['reps']} reps x {enc['rounds']} rounds)",
                table(["impl", "cell", "ms/step", "vs cudnn lstm"],
                      [[r["impl"], r["cell"], f"{r['ms_per_step']:.2f}", f"{r['ratio_vs_cudnn_lstm']:.2f}x"]
                       for r in enc["rows"]]) + f"\npeak RSS MB after: {enc['peak_rss_mb']}"]
    if result.get("decoding"):
        dec = result["decoding"]
        out += ["", f"Seq2seq decoding{_mark(dec)} ({dec['config']}, {dec['weights']}; max_len {dec['max_len']})",
                table(["beam", "sentences", "seconds", "sentences/s", "mean out len"],
                      [[r["beam_size"], r["sentences"], f"{r['seconds']:.2f}", f"{r['sentences_per_s']:,.1f}",
                        r["mean_output_len"]] for r in dec["rows"]]) + f"\npeak RSS MB after: {dec['peak_rss_mb']}"]
    out += ["", "Notes:", *(f"- {n}" for n in result["notes"])]
    return "\n".join(out)


NOTES = [
    "ratio = seqexp tokens/s / plain tokens/s; tokens = real tokens (sum of lengths) of the timed batches; "
    "padding = padded share of the timed batches' positions.",
    "plain: head.step(batch) loss, backward, clip_grad_norm_(trainer.gradient_clip_val), optimizer.step, "
    "zero_grad, over the same pre-made batches, with the optimizer of head.configure_optimizers(). seqexp: "
    "Lightning Trainer from cfg.trainer (no logger, checkpoints, progress bar or validation) with the default "
    "StepSeed callback; the head updates its train metrics and epoch loss every step and self.log()s the step "
    "loss every trainer.log_every_n_steps steps, as in a real run.",
    "impl=cudnn means torch.nn's fused RNN modules (cuDNN on GPU, aten/oneDNN kernels on CPU).",
    MEMORY_NOTE,
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m seqexp.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default=",".join(TASKS), help="comma-separated task configs (default: %(default)s)")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated model configs (default: %(default)s)")
    p.add_argument("--steps", type=int, default=200, help="timed training steps per loop (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=5, help="untimed training steps first (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds, best counts (default: %(default)s)")
    p.add_argument("--sections", default=",".join(SECTIONS), help="which to run (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    p.add_argument("--out", default="bench.json", help="JSON results file (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="tiny encoder and decoding sections (smoke tests)")
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides for every config, e.g. trainer=gpu")
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 1 or args.rounds < 1:
        p.error("--steps, --warmup and --rounds must be >= 1")
    unknown = set(_split(args.sections)) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s) {', '.join(sorted(unknown))} (expected {', '.join(SECTIONS)})")
    return args


def _split(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


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


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    quiet()
    for message in (".*smaller than the logging interval.*", ".*Trying to infer the `batch_size`.*",
                    ".*`max_epochs` was not set.*", ".*val_dataloader.*", ".*num_workers.*"):
        warnings.filterwarnings("ignore", message=message)
    if args.threads:
        torch.set_num_threads(args.threads)
    sections = _split(args.sections)
    others = other_seqexp_processes()
    result = {"meta": {
        "command": " ".join(["python -m seqexp.bench", *(argv if argv is not None else sys.argv[1:])]),
        "torch": torch.__version__, "lightning": pl.__version__, "python": platform.python_version(),
        "threads": torch.get_num_threads(), "threads_set": args.threads is not None, "cpu_count": os.cpu_count(),
        "device": "cuda" if torch.cuda.is_available() else "cpu", "steps": args.steps, "warmup": args.warmup,
        "rounds": args.rounds, "quick": args.quick, "overrides": args.overrides,
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "other_seqexp_processes": others, "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }, "training": [], "padding": [], "encoder": None, "decoding": None, "notes": NOTES}
    if others:
        print("[bench] WARNING: other seqexp processes are running, numbers will be skewed:\n  "
              + "\n  ".join(others), file=sys.stderr)
    cache: dict = {}
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # encoder and decoding sections
    with tempfile.TemporaryDirectory(prefix="seqexp-bench-") as root:
        try:
            if "training" in sections:
                for task in _split(args.tasks):
                    for model in _split(args.models):
                        result["training"].append(_step(f"training {task} {model}", bench_training, task, model,
                                                        args, root, cache, args.overrides))
            if "padding" in sections:
                for corpus, task in CORPORA.items():
                    result["padding"].append(_step(f"padding {corpus}", bench_padding, corpus, task, root, cache,
                                                   args.overrides))
            if "encoder" in sections:
                result["encoder"] = _step("encoder step", bench_encoders, 3 if args.quick else 30,
                                          1 if args.quick else 2, device)
            if "decoding" in sections:
                result["decoding"] = _step("seq2seq decoding", bench_decoding, root, cache, 1 if args.quick else 6,
                                           1 if args.quick else 2, args.overrides, device)
        finally:
            GlobalHydra.instance().clear()
    result["meta"]["peak_rss_mb"] = peak_rss_mb()
    result["meta"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    result["meta"]["other_seqexp_processes_at_end"] = other_seqexp_processes()
    if any(not math.isfinite(r["ratio"]) for r in result["training"]):
        result["notes"].append("a ratio is not finite: a loop measured no time")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(render(result))
    print(f"\nwrote {args.out}")
    return result


if __name__ == "__main__":
    main()
