"""The run page: ``report.html`` in the run folder, one self-contained page to look at after training (the command
and settings, learning curves, val and test scores, the head's own pictures, the predictions it showed, errors
marked). ``fit`` writes it with every run; ``python -m seqexp.report RUN_DIR`` draws it again from the files."""

import csv
import json

from omegaconf import OmegaConf

from seqexp.plots import figures
from seqexp.plots.html import Page
from seqexp.run.rundir import RunDir
from seqexp.run.runs import write_json
from seqexp.tasks.base import SeqTask
from seqexp.tasks.metrics import headline

ALIGNED = 3
"""How many shown test sources an attention model's page draws the alignment of."""


def record(run: RunDir, model: SeqTask) -> None:
    """Save what only the trained model in memory knows: the test predictions it showed (shown.json) and, with
    attention, where its translations of the first shown sources looked (attention.json)."""
    write_json(run.shown, [{"index": s.index, "wrong": s.wrong, "row": s.row} for s in model.shown])
    align = getattr(model, "align", None)
    if align is None or not model.shown:
        return
    sources = [s.row["source"] for s in model.shown[:ALIGNED]]
    training = model.training
    model.eval()
    try:
        maps = [found for text in sources if (found := align(text)) is not None]
    finally:
        model.train(training)
    if maps:
        write_json(run.attention, [{"source": src, "output": out, "weights": weights.tolist()}
                                   for src, out, weights in maps])


def write(run: RunDir, result: dict) -> Page:
    """report.html from the run's files and its ``result`` (what metrics.json holds), and its figures as PNGs in
    ``pictures/``; returns the page, whose ``figures`` the run's loggers get as images."""
    choices = result.get("choices", {})
    page = Page("seqexp run: " + " ".join(f"{k}={v}" for k, v in choices.items() if k in ("task", "data", "model")))
    minutes, seconds = divmod(round(result.get("seconds", 0)), 60)
    page.pre(" ".join(["python -m seqexp", *result.get("overrides", [])]))
    page.text(f"{result.get('epochs', '?')} epochs in {minutes} min {seconds:02d} s; the scores are those of the "
              f"checkpoint with the best {result['monitor']}: {result.get('best_checkpoint') or 'the last'}. "
              f"Folder: {run.path}")
    _scores(page, result)
    _curves(page, run, result)
    _confusion(page, run)
    _per_type(page, result)
    _attention(page, run)
    if run.grad_flow.is_file() and (rows := figures.read_grad_flow(run.grad_flow)):
        page.heading("Gradient flow through time")
        page.figure("grad_flow", figures.grad_flow(rows), "mean ||dL/dh_t|| by distance from the last step")
    _shown(page, run)
    if run.config.is_file():
        page.heading("Settings (.hydra/config.yaml)")
        page.pre(OmegaConf.to_yaml(OmegaConf.load(run.config)))
    run.pictures.mkdir(exist_ok=True)
    for name, data in page.pngs.items():
        (run.pictures / f"{name}.png").write_bytes(data)
    page.write(run.page)
    return page


def _scores(page: Page, result: dict) -> None:
    metrics = result["metrics"]
    names = dict.fromkeys(k.partition("/")[2] for k in metrics if headline(k))
    page.heading("Scores")
    page.table(["metric", "val", "test"],
               [[name + (" (monitored)" if f"val/{name}" == result["monitor"] else ""),
                 *(metrics.get(f"{split}/{name}", "-") for split in ("val", "test"))] for name in names])


def _curves(page: Page, run: RunDir, result: dict) -> None:
    if not run.curves.is_file():
        return
    with run.curves.open(newline="") as f:
        rows = list(csv.DictReader(f))
    monitor = result["monitor"]
    higher = result.get("directions", {}).get(monitor, SeqTask.direction(monitor)) != "min"
    fig = figures.learning_curves(rows, monitor, result.get("epochs", 10**9), higher)
    if fig is not None:
        page.heading("Learning curves")
        page.figure("learning_curves", fig)


def _confusion(page: Page, run: RunDir) -> None:
    if not run.confusion.is_file():
        return
    with run.confusion.open(newline="") as f:
        header, *rows = list(csv.reader(f))
    labels, counts = [r[0] for r in rows], [[int(v) for v in r[1:]] for r in rows]
    page.heading("Confusion matrix (test)")
    page.figure("confusion_matrix", figures.heatmap(counts, labels, header[1:], "test confusion matrix",
                                                    "predicted", "gold", cmap="Blues", numbers=len(labels) <= 20))


def _per_type(page: Page, result: dict) -> None:
    """Bars of each type's precision, recall and F1 on test, where the head scores them (``test/f1_<type>``)."""
    scores: dict[str, dict[str, float]] = {}
    for key, value in result["metrics"].items():
        split, _, name = key.partition("/")
        metric, _, type_ = name.partition("_")
        if split == "test" and type_ and metric in ("precision", "recall", "f1"):
            scores.setdefault(type_, {})[metric] = value
    if scores:
        page.heading("Per type (test)")
        page.figure("per_type", figures.type_bars(scores, "test precision, recall and F1 per type"))


def _attention(page: Page, run: RunDir) -> None:
    if not run.attention.is_file():
        return
    page.heading("Attention (test sources, greedy translation)")
    for i, item in enumerate(json.loads(run.attention.read_text())):
        page.figure(f"attention_{i}", figures.heatmap(item["weights"], item["output"], item["source"],
                                                      "attention weights", "source", "output", cmap="Greys",
                                                      vmin=0, vmax=1))


def _shown(page: Page, run: RunDir) -> None:
    if not run.shown.is_file() or not (shown := json.loads(run.shown.read_text())):
        return
    page.heading("Test predictions shown (errors red, right answers green)")
    header = list(shown[0]["row"])
    page.table(header, [[s["row"].get(k, "") for k in header] for s in shown],
               [None if s["wrong"] is None else "wrong" if s["wrong"] else "right" for s in shown])
