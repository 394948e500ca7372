"""The benchmark's printed tables and notes."""

MEMORY_NOTE = ("peak RSS = resource.getrusage(RUSAGE_SELF).ru_maxrss read right after each section/row: the "
               "process-wide high-water mark of resident memory, monotone over the run, so a row shows the peak "
               "of everything run up to it (sections run in the order printed); tracemalloc is not used since "
               "it does not see torch's tensor allocations.")


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
    rows = [*result.get("training", []), *result.get("padding", []), result.get("encoder"), result.get("scan"),
            result.get("decoding"), result.get("packing")]
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
    for key, title in (("encoder", "Encoder step"), ("scan", "The parallel scan against the loop")):
        if enc := result.get(key):
            shape = enc["shape"]
            out += ["", f"{title}{_mark(enc)}, forward + backward: B={shape['batch']} T={shape['steps']} "
                    f"E={shape['embedding_dim']} H={shape['hidden_size']} "
                    f"{'bidirectional' if shape['bidirectional'] else 'one direction'} ({enc['statistic']}, "
                    f"{enc['reps']} reps x {enc['rounds']} rounds)",
                    table(["impl", "cell", "ms/step", f"vs {enc['baseline']}", "warm-up s (3 steps)"],
                          [[r["impl"], r["cell"], f"{r['ms_per_step']:.2f}", f"{r['ratio']:.2f}x",
                            f"{r['warmup_s']:.1f}"] for r in enc["rows"]])
                    + "".join(f"\n{r['impl']} {r['cell']} failed: {r['error']}" for r in enc["failed"])
                    + f"\npeak RSS MB after: {enc['peak_rss_mb']}"]
    if result.get("decoding"):
        dec = result["decoding"]
        out += ["", f"Seq2seq decoding{_mark(dec)} ({dec['config']}, {dec['weights']}; max_len {dec['max_len']})",
                table(["beam", "sentences", "seconds", "sentences/s", "mean out len"],
                      [[r["beam_size"], r["sentences"], f"{r['seconds']:.2f}", f"{r['sentences_per_s']:,.1f}",
                        r["mean_output_len"]] for r in dec["rows"]]) + f"\npeak RSS MB after: {dec['peak_rss_mb']}"]
    if result.get("packing"):
        pack = result["packing"]
        shape = pack["shape"]
        out += ["", f"Packing{_mark(pack)}, BiLSTM forward + backward: B={shape['batch']} T={shape['steps']} "
                f"({shape['tokens']} real tokens) E={shape['embedding_dim']} H={shape['hidden_size']}; "
                f"{pack['statistic']} of {pack['reps']} reps, {pack['rounds']} rounds; device {pack['device']}",
                table(["path", "ms/step", "tokens/s", "speed vs torch's"],
                      [[r["path"], f"{r['ms_per_step']:.2f}", f"{r['tokens_per_s']:,}", f"{r['ratio_vs_torch']:.2f}x"]
                       for r in pack["rows"]])]
    if result.get("crf"):
        crf = result["crf"]
        out += ["", f"{crf['model']}{_mark(crf)}: CoNLL-sized synthetic batches, {crf['steps']} timed steps after "
                f"{crf['warmup']} warm-up; device {crf['device']}",
                table(["batch", "mean length", "train sentences/s", "decode sentences/s"],
                      [[r["batch_size"], r["mean_length"], f"{r['train_sentences_per_s']:,.0f}",
                        f"{r['decode_sentences_per_s']:,.0f}"] for r in crf["rows"]])]
    if result.get("gpu_tests"):
        tests = result["gpu_tests"]
        out += ["", f"GPU tests (pytest -m gpu): {tests.get('summary') or tests.get('error')}",
                *(f"  failed: {name}" for name in tests.get("failed", []))]
    out += ["", "Notes:", *(f"- {n}" for n in result["notes"])]
    return "\n".join(out)


NOTES = [
    "ratio = seqexp tokens/s / plain tokens/s; tokens = real tokens (sum of lengths) of the timed batches; "
    "padding = padded share of the timed batches' positions.",
    "plain: head.step(batch, \"train\") loss, backward, clip_grad_norm_(trainer.gradient_clip_val), optimizer.step, "
    "zero_grad, over the same pre-made batches, with the optimizer of head.configure_optimizers(). seqexp: "
    "Lightning Trainer from cfg.trainer (no logger, checkpoints, progress bar or validation) with the default "
    "StepSeed callback; the head updates its train metrics and epoch loss every step and self.log()s the step "
    "loss every trainer.log_every_n_steps steps, as in a real run.",
    "impl=cudnn means torch.nn's fused RNN modules (cuDNN on GPU, aten/oneDNN kernels on CPU).",
    MEMORY_NOTE,
]
