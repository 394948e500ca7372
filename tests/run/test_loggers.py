"""W&B through the real command line, offline (no key, no network): config, metrics, names, groups."""


from helpers import QUICK, read_metrics, read_wandb_run, run_module, run_seqexp

BUDGET = ["trainer.max_epochs=1", "+trainer.limit_train_batches=5", "+trainer.limit_val_batches=3",
          "+trainer.limit_test_batches=3"]


def offline_env(monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")


def test_single_run_logs_config_and_metrics_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc: no key, so it must go offline by itself
    run = tmp_path / "run"
    proc = run_seqexp(run, "logger=[csv,wandb]", "model=gru", "trainer.log_every_n_steps=1", *BUDGET)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "no API key, logging offline; upload later with: wandb sync" in proc.stdout + proc.stderr
    files = list((run / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1
    logged = read_wandb_run(files[0])
    assert {"model", "task", "data", "optimizer", "seed"} <= logged["config"]
    assert {"val/acc", "val/f1", "test/acc", "train/loss_epoch", "train/grad_norm"} <= logged["history"]
    assert {"test/predictions/_type", "test/confusion_matrix/_type"} <= logged["history"]  # tables
    assert {"report/learning_curves/_type", "report/confusion_matrix/_type"} <= logged["history"]  # the run page's
    images = {p.name.partition("_")[0] for p in (run / "wandb").glob("offline-run-*/files/media/images/report/*.png")}
    assert images == {"learning", "confusion"}
    assert logged["name"].startswith("model=gru")
    assert (run / "checkpoints" / "wandb_id").read_text() == logged["id"]
    assert read_metrics(run)["metrics"]["test/acc"] > 0


def test_multirun_makes_one_wandb_run_per_job_in_one_group(tmp_path, monkeypatch):
    offline_env(monkeypatch)
    sweep = tmp_path / "sweep"
    proc = run_module("seqexp", "-m", "model=rnn,gru", "logger=wandb", *QUICK, *BUDGET, f"hydra.sweep.dir={sweep}",
                      cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = [read_wandb_run(next((sweep / job / "wandb").glob("offline-run-*/run-*.wandb"))) for job in "01"]
    assert runs[0]["id"] != runs[1]["id"]
    assert [r["name"] for r in runs] == ["model=rnn", "model=gru"]
    assert runs[0]["group"] == runs[1]["group"] != ""
    assert all("test/acc" in r["history"] for r in runs)


def test_tensorboard_gets_the_run_pages_figures_as_images(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    proc = run_seqexp(run, "logger=[csv,tensorboard]", "model=gru", *BUDGET)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0}).Reload()
    assert {"report/learning_curves", "report/confusion_matrix"} <= set(events.Tags()["images"])
    image = events.Images("report/confusion_matrix")[-1]
    assert image.width > 300 and image.encoded_image_string[:4] == b"\x89PNG"
