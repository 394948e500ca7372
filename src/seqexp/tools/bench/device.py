"""What only an accelerator can show: the GPU-marked tests, and a BiLSTM-CRF with character features trained and
decoded on CoNLL-sized batches (``python -m seqexp.bench device_check=true``; ``dry_run=true`` runs the same code on
the CPU at tiny sizes, so the first GPU session only has to run it)."""

import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import torch

from seqexp.data.batch import sort_lengths, to_device
from seqexp.data.vocab import PAD, SPECIALS, UNK
from seqexp.run.build import CONF
from seqexp.tasks.tag import Tagger
from seqexp.tools.bench.machine import peak_rss_mb
from seqexp.tools.bench.timing import sync

TAGS = ["O", *(f"{p}-{t}" for t in ("PER", "LOC", "ORG", "MISC") for p in "BI")]  # CoNLL-2003's 9 tags
ENCODER = {"_target_": "seqexp.models.encoder.Encoder", "cell": "lstm", "bidirectional": True, "embedding_dim": 100,
           "hidden_size": 200, "embedding_dropout": 0.5, "char": "cnn", "char_dim": 30, "char_out_dim": 50}


def gpu_tests(out: Path) -> dict:
    """``pytest -m gpu`` on the checkout's tests, in a subprocess: counts from its JUnit XML."""
    tests, report = Path(CONF).parent / "tests", out.with_suffix(".gpu-tests.xml")
    if not tests.is_dir():
        return {"error": f"no tests/ beside {CONF}"}
    # a test module importing what the GPU image lacks (optuna) must not stop the GPU tests of the others
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider",
                           "--continue-on-collection-errors", f"--junitxml={report}", str(tests)],
                          capture_output=True, text=True, cwd=tests.parent)
    if not report.is_file():
        return {"error": (proc.stdout + proc.stderr)[-500:], "returncode": proc.returncode}
    suite = ElementTree.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    failed = [f"{case.get('classname')}::{case.get('name')}" for case in suite.iter("testcase")
              if case.find("failure") is not None or case.find("error") is not None]
    return {"returncode": proc.returncode, "cuda": torch.cuda.is_available(),
            **{k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}, "failed": failed,
            "summary": (proc.stdout.strip().splitlines() or [""])[-1], "junit": str(report)}


def conll_batch(size: int, vocab: int, chars: int, generator: torch.Generator, device: torch.device) -> dict:
    """A synthetic batch shaped like CoNLL-2003: sentence lengths around 14 (3 to 60), words of 2 to 12
    characters, as the collate function would give it (host lengths and their order kept)."""
    lengths = (torch.randn(size, generator=generator) * 9 + 14).round().clamp(3, 60).long()  # [B]
    steps, width = int(lengths.max()), 12
    real = torch.arange(steps)[None, :] < lengths[:, None]  # [B, T]
    tokens = torch.randint(4, vocab, (size, steps), generator=generator).masked_fill(~real, 0)  # [B, T]
    word_len = torch.randint(2, width + 1, (size, steps), generator=generator).masked_fill(~real, 0)  # [B, T]
    char_ids = torch.randint(2, chars, (size, steps, width), generator=generator)
    char_ids = char_ids.masked_fill(torch.arange(width) >= word_len[..., None], 0)  # [B, T, W]
    tags = torch.randint(0, len(TAGS), (size, steps), generator=generator).masked_fill(~real, 0)  # [B, T]
    batch = {"tokens": tokens, "lengths": lengths, "chars": char_ids, "char_lengths": word_len, "tags": tags}
    return to_device(sort_lengths(batch), device)


def bench_crf(device: torch.device, batch_sizes: list[int], steps: int, warmup: int) -> dict:
    """Sentences per second of a BiLSTM-CRF with char-CNN (task=ner's model): training steps (forward, CRF
    likelihood, backward, Adam) and decoding (forward and Viterbi), on CoNLL-sized synthetic batches."""
    vocab, chars, rows = 20_000, 100, []
    generator = torch.Generator().manual_seed(0)
    for size in batch_sizes:
        torch.manual_seed(0)
        model = Tagger(labels=TAGS, crf=True, encoder=ENCODER, vocab=[*SPECIALS, *(f"w{i}" for i in range(vocab))],
                       chars=[PAD, UNK, *(f"c{i}" for i in range(chars))],
                       optimizer={"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.005}).to(device)
        optimizer = model.configure_optimizers()
        batches = [conll_batch(size, vocab, chars, generator, device) for _ in range(warmup + steps)]
        row = {"batch_size": size, "mean_length": round(float(torch.cat([b["host_lengths"] for b in batches])
                                                            .float().mean()), 1)}
        for mode in ("train", "decode"):
            model.train(mode == "train")
            start = None
            for i, batch in enumerate(batches):
                if i == warmup:
                    sync(device)
                    start = time.perf_counter()
                if mode == "train":
                    model.step(batch, "train")[0].backward()
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                else:
                    with torch.no_grad():
                        model.step(batch, "val")
            sync(device)
            row[f"{mode}_sentences_per_s"] = round(size * steps / (time.perf_counter() - start), 1)
        rows.append(row)
    return {"device": str(device), "model": "BiLSTM-CRF h200, char-CNN 50, 9 tags, vocabulary 20k",
            "steps": steps, "warmup": warmup, "rows": rows, "peak_rss_mb": peak_rss_mb()}
