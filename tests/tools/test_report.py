"""``python -m seqexp.report``: on a real two-run sweep of the command line, and on hand-made run directories."""

import csv
import json
import re
import shutil
import statistics
import subprocess
from pathlib import Path

import pytest
from matplotlib.image import imread

from helpers import QUICK, read_metrics, run_module
from seqexp.tools.report import collect_runs, main, plot_curves, plot_grad_flow, runs_table


def run_report(*args: str | Path) -> subprocess.CompletedProcess:
    return run_module("seqexp.report", *map(str, args), timeout=120)


def markdown_runs(text: str) -> list[dict[str, str]]:
    """The first markdown table of report.md (the runs), as one dict per row."""
    lines = [line for line in text.split("\n\n") if line.startswith("| run |")][0].splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True)) for line in lines[2:]]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """``python -m seqexp -m model=rnn,gru seed=1,2`` on a tiny budget: a 2x2 sweep, four finished runs, trained
    once for the module."""
    root = tmp_path_factory.mktemp("report")
    proc = run_module("seqexp", "-m", "model=rnn,gru", "seed=1,2", "trainer.max_epochs=2",
                      "+trainer.limit_train_batches=10",
                      "+trainer.limit_val_batches=5", "+trainer.limit_test_batches=5", *QUICK,
                      f"hydra.sweep.dir={root}/sweep", cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "sweep"


@pytest.fixture(scope="module")
def report(sweep) -> Path:
    """The report on the sweep, written into the sweep directory (the default)."""
    proc = run_report(sweep)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == str(sweep / "report.md")
    return sweep


def test_markdown_table_has_each_run_and_its_test_acc(report):
    text = (report / "report.md").read_text()
    rows = markdown_runs(text)
    assert sorted(row["model"] for row in rows) == ["gru", "gru", "rnn", "rnn"]
    for row in rows:
        metrics = read_metrics(report / row["run"])
        assert metrics["choices"]["model"] == row["model"]
        assert row["test/acc"] == f"{metrics['metrics']['test/acc']:.4f}"
        assert row["epochs"] == "2"
    accs = [float(row["test/acc"]) for row in rows]
    assert accs == sorted(accs, reverse=True)
    assert "## Results by setting" in text
    assert "Failed" not in text


def test_csv_has_each_run_with_every_metric(report):
    with (report / "report.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    for row in rows:
        metrics = read_metrics(report / row["run"])
        assert row["model"] == metrics["choices"]["model"]
        assert {k: float(row[k]) for k in metrics["metrics"]} == metrics["metrics"]


def test_the_sweep_page_holds_the_runs_the_results_and_the_figures(report):
    """report.html: the runs best first, the results by setting, the figures inlined; each run's page redrawn."""
    page = (report / "report.html").read_text()
    assert page.count('<img alt="') == 2 and '<img alt="val_curves"' in page and '<img alt="final_by_setting"' in page
    rows = markdown_runs((report / "report.md").read_text())
    first_table = page.split("</table>")[0]
    assert re.findall(r"<tr><td>([^<]*)</td>", first_table) == [row["run"] for row in rows]  # ranked as report.md
    assert "Results by setting" in page and page.count("<td>gru</td>") == 2 + 1  # 2 runs + 1 setting row
    for row in rows:
        assert '<img alt="learning_curves"' in (report / row["run"] / "report.html").read_text()


@pytest.mark.parametrize("name", ["val_curves.png", "final_by_setting.png"])
def test_plots_are_images(report, name):
    height, width = imread(report / name).shape[:2]
    assert height > 100 and width > 100


def test_val_curves_has_a_line_per_run_over_its_epochs(sweep):
    runs = collect_runs([sweep])
    lines = plot_curves(runs).axes[0].get_lines()
    assert sorted(line.get_label() for line in lines) == ["model=gru seed=1", "model=gru seed=2",
                                                          "model=rnn seed=1", "model=rnn seed=2"]
    for line, run in zip(lines, runs, strict=True):
        assert list(line.get_xdata()) == [0, 1]  # not the best checkpoint's re-validation logged after fit
        assert max(line.get_ydata()) == pytest.approx(run.result["metrics"]["val/acc"], abs=1e-4)


def test_lower_is_better_for_a_loss(sweep):
    _, rows = runs_table(collect_runs([sweep]), "test/loss")
    losses = [row["test/loss"] for row in rows]
    assert losses == sorted(losses)


def test_failed_run_is_listed_not_fatal(sweep, tmp_path):
    shutil.copytree(sweep / "0", tmp_path / "ok", ignore=shutil.ignore_patterns("*.ckpt"))
    (tmp_path / "crashed" / ".hydra").mkdir(parents=True)
    (tmp_path / "crashed" / ".hydra" / "overrides.yaml").write_text("- model=rnn\n- model.hidden_size=-5\n")
    proc = run_report(tmp_path, "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = (tmp_path / "out" / "report.md").read_text()
    assert [row["run"] for row in markdown_runs(text)] == ["ok"]
    assert "## Failed or unfinished (1)" in text
    assert "- `crashed`: model.hidden_size=-5" in text.splitlines()


def test_seeds_of_one_model_are_summarised(tmp_path):
    """Hand-written metrics.json, monitor val/f1 and no CSV logger: ranked by test/f1, mean ± std per model."""
    f1s = {1: 0.5, 2: 0.7, 3: 0.6}
    for seed, f1 in f1s.items():
        (tmp_path / f"s{seed}").mkdir()
        (tmp_path / f"s{seed}" / "metrics.json").write_text(json.dumps({
            "metrics": {"test/f1": f1, "test/f1_person": 0.1, "val/f1": f1}, "monitor": "val/f1",
            "epochs": 3, "seconds": 1.0, "choices": {"model": "bilstm"}, "overrides": [f"seed={seed}"], "seed": seed}))
    assert main([str(tmp_path)]) == 0
    text = (tmp_path / "report.md").read_text()
    rows = markdown_runs(text)
    assert [row["seed"] for row in rows] == ["2", "3", "1"]
    assert "test/f1_person" not in rows[0] and "test/f1_person" in (tmp_path / "report.csv").read_text()
    f1 = list(f1s.values())
    assert f"| bilstm | {statistics.fmean(f1):.4f} ± {statistics.stdev(f1):.4f} | 3 |" in text  # one setting


@pytest.mark.parametrize("failed_run", [False, True])
def test_nothing_finished_is_one_line_and_exit_2(tmp_path, failed_run):
    if failed_run:
        (tmp_path / "crashed" / ".hydra").mkdir(parents=True)
    proc = run_report(tmp_path)
    assert proc.returncode == 2
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1 and str(tmp_path) in lines[0], lines


def test_unknown_metric_is_exit_2(sweep, tmp_path, capsys):
    assert main([str(sweep), f"out={tmp_path}", "metric=test/bleu"]) == 2
    assert "test/bleu" in capsys.readouterr().err


def test_results_by_setting_are_mean_and_std_over_the_seeds(report):
    """The 2x2 sweep: one row per model, n=2, the mean and sample std of its two seeds' metrics.json."""
    runs = {(m["choices"]["model"], m["seed"]): m["metrics"] for m in map(read_metrics, report.glob("[0-9]"))}
    with (report / "results.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["model"] for row in rows] == ["rnn", "gru"] and [row["n"] for row in rows] == ["2", "2"]
    assert list(rows[0]) == ["model", "n", "test/acc mean", "test/acc std", "test/f1 mean", "test/f1 std"]
    means = {}
    for row in rows:
        for metric in ("test/acc", "test/f1"):
            values = [runs[row["model"], seed][metric] for seed in (1, 2)]
            assert float(row[f"{metric} mean"]) == pytest.approx(statistics.fmean(values))
            assert float(row[f"{metric} std"]) == pytest.approx(statistics.stdev(values))
            means[row["model"], metric] = statistics.fmean(values)
    tex = (report / "results.tex").read_text().splitlines()
    assert tex[:4] == [r"\begin{tabular}{lrrr}", r"\toprule", r"model & test/acc & test/f1 & $n$ \\", r"\midrule"]
    assert tex[-2:] == [r"\bottomrule", r"\end{tabular}"]
    best = max(("rnn", "gru"), key=lambda model: means[model, "test/acc"])
    line = next(line for line in tex if line.startswith(f"{best} & "))
    assert line.startswith(f"{best} & $\\mathbf{{{means[best, 'test/acc']:.4f} \\pm ") and line.endswith(r"& 2 \\")


def test_results_group_by_every_swept_key(tmp_path):
    """Two swept keys and two seeds, hand-written: a row per (model, hidden size), in sweep order; LaTeX escaped."""
    scores = {("gru", "64"): [0.5, 0.7], ("gru", "128"): [0.8, 0.8], ("lstm", "64"): [0.6, 0.4],
              ("lstm", "128"): [0.9]}  # one lstm/128 run failed
    for i, ((model, size), values) in enumerate(scores.items()):
        for seed, value in enumerate(values):
            run = tmp_path / f"{i}{seed}"
            run.mkdir()
            (run / "metrics.json").write_text(json.dumps({
                "metrics": {"test/acc": value, "test/loss": 1 - value}, "monitor": "val/acc", "epochs": 1,
                "seconds": 1.0, "choices": {"model": model}, "seed": seed,
                "overrides": [f"model={model}", f"model.hidden_size={size}", f"seed={seed}"]}))
    assert main([str(tmp_path), "columns=[test/acc,test/loss]"]) == 0
    text = (tmp_path / "report.md").read_text()
    table = text[text.index("\n| model | model.hidden_size | test/acc"):].strip().splitlines()
    assert table[:2] == ["| model | model.hidden_size | test/acc | test/loss | n |", "|---|---|---:|---:|---:|"]
    assert table[2:6] == ["| gru | 64 | 0.6000 ± 0.1414 | 0.4000 ± 0.1414 | 2 |",
                          "| gru | 128 | 0.8000 ± 0.0000 | 0.2000 ± 0.0000 | 2 |",
                          "| lstm | 64 | 0.5000 ± 0.1414 | 0.5000 ± 0.1414 | 2 |",
                          "| lstm | 128 | **0.9000** | **0.1000** | 1 |"]  # lower loss is better
    tex = (tmp_path / "results.tex").read_text()
    assert r"model & model.hidden\_size & test/acc & test/loss & $n$ \\" in tex
    assert r"lstm & 128 & $\mathbf{0.9000}$ & $\mathbf{0.1000}$ & 1 \\" in tex
    assert main([str(tmp_path), "columns=[test/bleu]"]) == 2


@pytest.mark.slow  # a sweep of two subprocess runs: ~40 s
def test_grad_flow_of_a_sweep_is_overlaid(tmp_path):
    """``-m task=adding model=rnn,lstm``: one line per run in the report's grad_flow.png, each its run's last
    measurement of dL/dh_t by distance."""
    proc = run_module("seqexp", "-m", "task=adding", "model=rnn,lstm", "data.length=12", "data.train_size=64",
                      "data.val_size=16", "data.test_size=16", "model.hidden_size=8", "trainer.max_epochs=1",
                      "callbacks.grad_flow.every_n_steps=1", *QUICK, f"hydra.sweep.dir={tmp_path}/sweep", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert run_report(tmp_path / "sweep").returncode == 0
    assert imread(tmp_path / "sweep" / "grad_flow.png").shape[0] > 100
    lines = plot_grad_flow(collect_runs([tmp_path / "sweep"])).axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["model=rnn (step 0)", "model=lstm (step 0)"]  # 1 batch: step 0
    for line, job in zip(lines, ("0", "1"), strict=True):
        rows = [r for r in csv.DictReader((tmp_path / "sweep" / job / "grad_flow.csv").open())
                if r["layer"] == r["direction"] == "0"]
        assert list(line.get_xdata()) == list(range(12))
        assert list(line.get_ydata()) == [float(r["norm"]) for r in rows]


@pytest.fixture(scope="module")
def lm_sweep(tmp_path_factory) -> Path:
    """``python -m seqexp -m task=lm model=rnn,gru`` on a tiny budget: two language models, perplexities apart."""
    root = tmp_path_factory.mktemp("lm")
    proc = run_module("seqexp", "-m", "task=lm", "model=rnn,gru", "trainer.max_epochs=1",
                      "+trainer.limit_train_batches=10", "+trainer.limit_val_batches=3",
                      "+trainer.limit_test_batches=3", *QUICK, f"hydra.sweep.dir={root}/sweep", cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "sweep"


def _ranked_by_perplexity(sweep: Path) -> None:
    runs = collect_runs([sweep])
    _, rows = runs_table(runs, "test/ppl")
    ppl = [row["test/ppl"] for row in rows]
    assert ppl == sorted(ppl) and ppl[0] < ppl[-1]  # the lowest perplexity first
    assert main([str(sweep), "--columns", "test/ppl"]) == 0
    text = (sweep / "report.md").read_text()
    assert [float(r["test/ppl"]) for r in markdown_runs(text)] == pytest.approx(ppl, abs=1e-4)
    assert f"**{min(ppl):.4f}" in text and f"**{max(ppl):.4f}" not in text  # the best, in bold, is the lowest


def test_an_lm_sweep_ranks_the_lowest_perplexity_first(lm_sweep):
    for run in collect_runs([lm_sweep]):
        assert run.result["directions"]["test/ppl"] == run.result["directions"]["val/loss"] == "min"
    _ranked_by_perplexity(lm_sweep)


def test_runs_written_before_directions_rank_by_their_heads_table(lm_sweep, tmp_path):
    """metrics.json of older runs has no ``directions``: the head named in .hydra/config.yaml says it."""
    old = tmp_path / "old"
    shutil.copytree(lm_sweep, old, ignore=shutil.ignore_patterns("*.ckpt", "report.*", "results.*", "*.png"))
    for path in old.glob("*/metrics.json"):
        result = json.loads(path.read_text())
        del result["directions"]
        path.write_text(json.dumps(result))
    _ranked_by_perplexity(old)
