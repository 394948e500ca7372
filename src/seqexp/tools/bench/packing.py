"""The packing options timed side by side (``sections=packing``): a BiLSTM's forward and backward over the same
CoNLL-like batch, packed as torch packs it (``enforce_sorted=False``: the permutation crosses to the device and back
every forward), packed from the order collate sorted on the host (``seqexp.models.packing``: what seqexp runs),
and unpacked over the padding (not exact for the backward direction: the floor a faster exact path could reach).
On GPUs packed batches are reported much slower than padded ones (pytorch issue 149194), so the device check
times these there too."""

import time

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqexp.data.batch import lengths_of, sort_lengths, to_device
from seqexp.tools.bench.machine import peak_rss_mb
from seqexp.tools.bench.timing import sync

SHAPE = {"batch": 32, "embedding_dim": 100, "hidden_size": 128}  # lengths as CoNLL's: around 14, 3 to 60


def _paths(rnn: nn.LSTM, x: torch.Tensor, batch: dict[str, torch.Tensor]) -> dict:
    """Each option's forward, returning ``[B, T, 2H]`` outputs in batch order."""
    steps, host = x.size(1), batch["host_lengths"]

    def torch_unsorted() -> torch.Tensor:
        out, _ = rnn(pack_padded_sequence(x, host, batch_first=True, enforce_sorted=False))
        return pad_packed_sequence(out, batch_first=True, total_length=steps)[0]

    def host_sorted() -> torch.Tensor:
        lengths = lengths_of(batch)
        out, _ = rnn(lengths.pack(x))
        return lengths.unpack(out, steps)

    return {"torch enforce_sorted=False": torch_unsorted, "host-sorted (seqexp)": host_sorted,
            "padded, no packing (inexact)": lambda: rnn(x)[0]}


def bench_packing(reps: int, rounds: int, device: torch.device) -> dict:
    g = torch.Generator().manual_seed(0)
    lengths = (torch.randn(SHAPE["batch"], generator=g) * 9 + 14).round().clamp(3, 60).long()  # [B]
    steps = int(lengths.max())
    tokens = torch.ones(SHAPE["batch"], steps, dtype=torch.long).masked_fill(
        torch.arange(steps)[None] >= lengths[:, None], 0)  # [B, T]
    batch = to_device(sort_lengths({"tokens": tokens, "lengths": lengths}), device)  # as a training step gets it
    torch.manual_seed(0)
    rnn = nn.LSTM(SHAPE["embedding_dim"], SHAPE["hidden_size"], batch_first=True, bidirectional=True).to(device)
    x = torch.randn(SHAPE["batch"], steps, SHAPE["embedding_dim"], device=device, requires_grad=True)  # [B, T, E]
    paths = _paths(rnn, x, batch)
    real = batch["tokens"] != 0  # [B, T]

    def step(forward) -> None:
        (forward() * real[..., None]).sum().backward()

    for forward in paths.values():  # warm up
        step(forward)
    ms: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):  # alternate, so drifting load hits every option alike
        for name, forward in paths.items():
            sync(device)
            start = time.perf_counter()
            for _ in range(reps):
                step(forward)
            sync(device)
            ms[name].append((time.perf_counter() - start) / reps * 1000)
    count = int(lengths.sum())
    base = min(ms["torch enforce_sorted=False"])
    rows = [{"path": name, "ms_per_step": round(min(v), 3), "tokens_per_s": round(count / min(v) * 1000),
             "ratio_vs_torch": round(base / min(v), 3)} for name, v in ms.items()]
    return {"shape": {**SHAPE, "steps": steps, "tokens": count}, "device": str(device), "reps": reps,
            "rounds": rounds, "statistic": "best round's mean", "rows": rows, "peak_rss_mb": peak_rss_mb()}
