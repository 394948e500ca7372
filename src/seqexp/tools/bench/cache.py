"""``python -m seqexp.tools.bench.cache [sizes=[...]] [kinds=[lm,parallel]] [out=cache-bench.json]``: data setup
time and peak memory against corpus size, with and without the tokenized cache (``seqexp.data.cache``), on
generated corpora: a language-modelling text file (``sizes`` lines) and a parallel corpus (``sizes // 2`` pairs).

Peak memory (Linux's VmHWM) is per process, so each measurement is a process of its own (``probe``), building the
data module as ``python -m seqexp`` does: cache off, cache built, cache hit; then ``train_steps`` training steps
that read the cache (the whole run: model, optimizer and all). Corpora and the cache go to ``work`` (a temporary
directory unless set); prints one row per measurement and writes them all to ``out``. A benchmark, not a test."""

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import numpy as np

from seqexp.constraints import Positive

Kind = Literal["lm", "parallel"]
WORDS = 50_000  # the generated vocabulary; Zipf-distributed, so min_freq and max_size matter as in real text
SMALL = ["model=lstm", "model.hidden_size=64", "model.embedding_dim=64", "data.max_size=20000",
         "+trainer.limit_val_batches=5", "+trainer.limit_test_batches=5", "trainer.max_epochs=1", "logger=csv",
         "callbacks.progress_bar=null", "+trainer.enable_progress_bar=false"]


@dataclass
class Options:
    sizes: list[int] = field(default_factory=lambda: [100_000, 1_000_000])  # LM lines (pairs: half as many)
    kinds: list[Kind] = field(default_factory=lambda: ["lm", "parallel"])
    train_steps: Annotated[int, Positive] = 100
    work: str | None = None  # where corpora, cache and runs go (a temporary directory if not set)
    out: str = "cache-bench.json"


def sentences(rng: np.random.Generator, count: int, prefix: str) -> list[str]:
    """``count`` lines of 4 to 20 Zipf-distributed words ``{prefix}{id}``."""
    lengths = rng.integers(4, 21, count)
    ids = np.minimum(rng.zipf(1.2, int(lengths.sum())), WORDS)
    words = np.char.add(prefix, ids.astype(str))
    return [" ".join(ws) for ws in np.split(words, np.cumsum(lengths)[:-1])]


def generate(kind: Kind, size: int, directory: Path, chunk: int = 200_000) -> list[str]:
    """Write the corpus (once per size) and return the overrides that read it."""
    rng = np.random.default_rng(size)
    if kind == "lm":
        path = directory / f"lm-{size}.txt"
        if not path.exists():
            with open(path, "w") as f:
                for start in range(0, size, chunk):
                    f.write("\n".join(sentences(rng, min(chunk, size - start), "w")) + "\n")
        return ["task=lm", "data=text", f"data.train={path}", "data.batch_size=32"]
    pairs, prefix = size // 2, directory / f"parallel-{size}"
    if not Path(f"{prefix}.src").exists():
        with open(f"{prefix}.src", "w") as src, open(f"{prefix}.tgt", "w") as tgt:
            for start in range(0, pairs, chunk):
                n = min(chunk, pairs - start)
                src.write("\n".join(sentences(rng, n, "s")) + "\n")
                tgt.write("\n".join(sentences(rng, n, "t")) + "\n")
    return ["task=seq2seq", "data=parallel", f"data.train={prefix}", "data.src=src", "data.tgt=tgt",
            "data.lowercase=false", "data.tokenizer=whitespace", "task.beam_size=1"]


def probe(argv: list[str]) -> None:
    """In its own process: ``setup`` builds the data module, ``train`` runs the whole training command; prints
    seconds and peak memory as JSON."""
    from seqexp.run.build import build_data, compose_config
    from seqexp.run.fit import train

    what, run_dir, *overrides = argv
    cfg = compose_config(overrides, run_dir)
    start = time.perf_counter()
    build_data(cfg) if what == "setup" else train(cfg)
    print(json.dumps({"seconds": round(time.perf_counter() - start, 2), **memory()}))


def memory() -> dict[str, float]:
    """Peak resident memory (VmHWM: ru_maxrss would start at the forking parent's, the one that generated the
    corpus), and at the end how much of the resident memory is the process's own (anonymous) and how much is
    mapped files: the cache's pages, which DDP ranks share and the kernel can drop."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    mb = {key: round(int(status[key].split()[0]) / 1024, 1) for key in ("VmHWM", "RssAnon", "RssFile")}
    return {"peak_rss_mb": mb["VmHWM"], "end_anon_mb": mb["RssAnon"], "end_file_mb": mb["RssFile"]}


def measure(what: str, run_dir: Path, overrides: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-m", "seqexp.tools.bench.cache", "probe", what, str(run_dir), *overrides],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"probe {what} {' '.join(overrides)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    from seqexp.run.cli import parse

    options, _ = parse(argv, Options)
    work = Path(options.work or tempfile.mkdtemp(prefix="seqexp-cache-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in options.sizes:
        for kind in options.kinds:
            start = time.perf_counter()
            data = generate(kind, size, work)
            cache = [f"data.cache_dir={work}/cache-{kind}-{size}"]
            row = {"kind": kind, "examples": size if kind == "lm" else size // 2,
                   "generate_s": round(time.perf_counter() - start, 1)}
            for name, setting in (("off", "false"), ("build", "true"), ("hit", "true")):
                row[name] = measure("setup", work / "run", [*data, *cache, f"data.cache={setting}"])
            row["train"] = measure("train", work / f"run-{kind}-{size}",
                                   [*data, *cache, *SMALL, f"+trainer.limit_train_batches={options.train_steps}"])
            rows.append(row)
            print(json.dumps(row), flush=True)
            Path(options.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    if sys.argv[1:2] == ["probe"]:
        probe(sys.argv[2:])
    else:
        from seqexp.run.cli import run_cli

        sys.exit(run_cli(main))
