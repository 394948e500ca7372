"""The benchmark's sections: training throughput against plain PyTorch, padding waste, the encoder step, and
seq2seq decoding speed. Each returns one JSON-ready row or section."""

import gc
import math
import time

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqexp.data.batch import to_device
from seqexp.data.batching import BucketBatchSampler, padding_ratio
from seqexp.models.encoder import Encoder
from seqexp.run.build import build_data, compose_config
from seqexp.tools.bench.machine import peak_rss_mb
from seqexp.tools.bench.timing import batch_tokens, first_batches, fresh_model, run_plain, run_seqexp, sync, trainer

ENCODER_SHAPE = {"batch": 32, "steps": 40, "embedding_dim": 100, "hidden_size": 128, "bidirectional": True}
ENCODERS = (("cudnn", "lstm", False), ("scratch", "lstm", False), ("scratch", "lnlstm", False),
            ("scratch", "indrnn", False), ("scratch", "mingru", False), ("scratch", "minlstm", False),
            ("scratch", "lstm", True), ("scratch", "lnlstm", True))  # impl, cell, model.compile_step
SCAN_SHAPE = {"batch": 32, "steps": 512, "embedding_dim": 100, "hidden_size": 128, "bidirectional": False}
SCAN_ENCODERS = (("cudnn", "gru", False), ("scratch", "gru", False), ("scratch", "mingru", False),
                 ("scratch", "minlstm", False))  # the minimal cells' parallel scan against the GRU's loop


class RawLSTM(nn.Module):
    """The encoder step as plain PyTorch writes it: an embedding, then torch.nn's (cuDNN's) LSTM over packed
    sequences; the baseline the Encoder's fused path is compared with."""

    def __init__(self, vocab: int, embedding_dim: int, hidden_size: int, bidirectional: bool):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embedding_dim, padding_idx=0)
        self.rnn = nn.LSTM(embedding_dim, hidden_size, batch_first=True, bidirectional=bidirectional)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        packed = pack_padded_sequence(self.embedding(tokens), lengths, batch_first=True, enforce_sorted=False)
        out, (h, _) = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=tokens.size(1))  # [B, T, D*H]
        return out, h.transpose(0, 1).flatten(1), None  # [B, T, D*H], [B, D*H]


def cached_data(overrides: list[str], root: str, cache: dict):
    """The config and set-up data module of ``python -m seqexp *overrides``; runs of the same data config (models
    differ, say) share one data module."""
    cfg = compose_config(overrides, root)
    key = OmegaConf.to_yaml(cfg.data) + cfg.model.get("char", "none")
    if key not in cache:
        cache[key] = build_data(cfg)
    return cfg, cache[key]


def bench_training(task: str, model: str, args, root: str, cache: dict, extra: list[str]) -> dict:
    cfg, data = cached_data([f"task={task}", f"model={model}", *extra], root, cache)
    cfg.scheduler = None  # neither loop validates, and task=ner's plateau schedule would wait for val/f1
    batches = first_batches(data, args.warmup + args.steps)
    real, padded = batch_tokens(batches[args.warmup:])
    device = trainer(cfg, 1, [], root).strategy.root_device
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
    """Padded share of one train epoch's positions with the corpus' bucketing (``data.bucket_pool``) and without
    (``data.bucket=false``: random batches)."""
    cfg, data = cached_data([f"task={task}", f"data={corpus}", *extra], root, cache)
    train = data.datasets["train"]
    row = {"corpus": corpus, "task": task, "examples": len(train), "batch_size": data.batch_size}
    for key, pool in (("bucket_on", cfg.data.bucket_pool), ("bucket_off", 1)):
        sampler = BucketBatchSampler([len(x["tokens"]) for x in train], data.batch_size, seed=cfg.seed, pool=pool)
        row[key] = round(padding_ratio([len(x["tokens"]) for x in train], iter(sampler)), 4)
        if "target" in train[0]:  # seq2seq: the decoder pays for target padding in the same batches
            row[f"target_{key}"] = round(padding_ratio([len(x["target"]) - 1 for x in train], iter(sampler)), 4)
        row["batches"] = len(sampler)
    row["peak_rss_mb"] = peak_rss_mb()
    return row


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def bench_encoders(reps: int, rounds: int, device: torch.device, shape: dict = ENCODER_SHAPE,
                   encoders: tuple = ENCODERS, baseline: tuple[str, str] = ("cudnn", "lstm")) -> dict:
    """Forward + backward of one Encoder step per (impl, cell), on the same batch of ``shape``, each timed against
    ``baseline``'s; the LSTM tables add plain PyTorch's (``RawLSTM``)."""
    b, t = shape["batch"], shape["steps"]
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(t // 2, t + 1, (b,), generator=g)
    lengths[0] = t
    tokens = torch.randint(1, 5000, (b, t), generator=g).masked_fill(torch.arange(t)[None] >= lengths[:, None], 0)
    tokens = tokens.to(device)  # lengths stay on the host, as the collate function leaves them
    sizes = {k: shape[k] for k in ("embedding_dim", "hidden_size", "bidirectional")}
    torch.manual_seed(0)
    timed = {("raw", "lstm"): RawLSTM(5000, **sizes).to(device)} if baseline[1] == "lstm" else {}  # (impl, cell)
    for impl, cell, compiled in encoders:
        torch.manual_seed(0)
        timed[(f"{impl}+compile" if compiled else impl, cell)] = Encoder(
            5000, cell=cell, impl=impl, compile_step=compiled, **sizes).to(device)

    def step(enc: nn.Module) -> None:
        out, final, _ = enc(tokens, lengths)
        (out.sum() + final.sum()).backward()
        enc.zero_grad(set_to_none=True)

    warmup_s, failed = {}, []  # compile_step's one-time compile cost is in its warm-up
    for (impl, cell), enc in list(timed.items()):
        start = time.perf_counter()
        try:
            for _ in range(3):
                step(enc)
        except Exception as e:  # noqa: BLE001 - torch.compile needs a compiler (C++ here, Triton on a GPU)
            if not impl.endswith("+compile"):
                raise
            first_line = (str(e).splitlines() or [""])[0]
            failed.append({"impl": impl, "cell": cell, "error": f"{type(e).__name__}: {first_line}"})
            del timed[impl, cell]
            continue
        sync(device)
        warmup_s[impl, cell] = time.perf_counter() - start
    ms: dict[tuple[str, str], list[float]] = {k: [] for k in timed}
    for _ in range(rounds):  # alternate, so drifting load hits every encoder alike
        for name, enc in timed.items():
            times = []
            for _ in range(reps):
                sync(device)
                start = time.perf_counter()
                step(enc)
                sync(device)
                times.append(time.perf_counter() - start)
            ms[name].append(_median(times) * 1000)
    rows = [{"impl": impl, "cell": cell, "ms_per_step": round(min(v), 3), "rounds_ms": [round(x, 3) for x in v],
             "warmup_s": round(warmup_s[impl, cell], 2)} for (impl, cell), v in ms.items()]
    base = min(ms[baseline])
    for row in rows:
        row["ratio"] = round(row["ms_per_step"] / base, 3)
    return {"shape": shape, "baseline": " ".join(baseline), "device": str(device), "reps": reps, "rounds": rounds,
            "statistic": "best round of per-round medians",
            "rows": rows, "failed": failed, "peak_rss_mb": peak_rss_mb()}


def bench_decoding(root: str, cache: dict, n_batches: int, rounds: int, extra: list[str],
                   device: torch.device) -> dict:
    cfg, data = cached_data(["task=seq2seq", "model=bigru", *extra], root, cache)
    model = fresh_model(cfg, data).eval().to(device)
    val = list(data.val_dataloader())  # sorted by length: take batches spread over it
    picks = sorted({round(i * (len(val) - 1) / max(1, n_batches - 1)) for i in range(min(n_batches, len(val)))})
    batches = [to_device(val[i], device) for i in picks]  # host lengths kept, as training has them
    sentences = sum(int(b["lengths"].numel()) for b in batches)
    pad, rows = model.target_vocab.pad_index, []
    with torch.inference_mode():
        model.translate(batches[0], beam_size=1)  # warm-up
        for beam in (1, 5):
            best, words = math.inf, 0
            for _ in range(rounds):
                sync(device)
                start, words = time.perf_counter(), 0
                for b in batches:
                    words += int((model.translate(b, beam_size=beam) != pad).sum())  # up to <eos> included
                sync(device)
                best = min(best, time.perf_counter() - start)
            rows.append({"beam_size": beam, "sentences": sentences, "seconds": round(best, 4),
                         "sentences_per_s": round(sentences / best, 1), "mean_output_len": round(words / sentences, 1)})
    return {"config": "task=seq2seq model=bigru", "device": str(device),
            "weights": "random (untrained): hypotheses rarely end in <eos>, "
            "so most run to task.max_len, the slowest case", "max_len": cfg.task.max_len,
            "batches": len(batches), "rounds": rounds, "statistic": "best round", "rows": rows,
            "peak_rss_mb": peak_rss_mb()}
