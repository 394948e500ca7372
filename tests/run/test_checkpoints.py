"""The one checkpoint loader: every way a file can be unusable is one line naming it, in process and through
``python -m seqexp.evaluate`` / ``seqexp.predict``; a corrupt last.ckpt does not block ``resume=auto``."""

import os
import pickle
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from helpers import read_metrics, run_module, run_seqexp
from seqexp.errors import ConfigError
from seqexp.run.checkpoints import load_checkpoint


class Evil:
    def __reduce__(self):
        return os.system, ("echo PWNED",)


def bad_files(good: bytes) -> dict[str, bytes]:
    """name -> content: files that are not usable checkpoints, and the line each gets."""
    newer = torch.load(__import__("io").BytesIO(good), weights_only=True)
    newer["seqexp_version"] = "99.0"
    buffer = __import__("io").BytesIO()
    torch.save(newer, buffer)
    return {"random.ckpt": bytes(range(256)) * 8, "empty.ckpt": b"", "half.ckpt": good[:len(good) // 2],
            "evil.ckpt": pickle.dumps({"state_dict": Evil()}, protocol=2), "tensor.ckpt": _saved(torch.zeros(2)),
            "newer.ckpt": buffer.getvalue()}


def _saved(obj) -> bytes:
    buffer = __import__("io").BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


EXPECTED = {
    "random.ckpt": "is not a readable checkpoint: cut short, or not a PyTorch file",
    "empty.ckpt": "is empty (a save that was cut short?)",
    "half.ckpt": "is not a readable checkpoint: cut short, or not a PyTorch file",
    "evil.ckpt": "refers to Python code (posix.system) that loading it would run: refused",
    "tensor.ckpt": "is a PyTorch file but not a seqexp checkpoint",
    "newer.ckpt": "was written by seqexp 99.0, this is seqexp 0.1.0: update seqexp to read it",
}


@pytest.fixture(scope="module")
def broken_run(trained, tmp_path_factory):
    """A copy of a trained classifier's run dir whose checkpoints/ also holds the bad files and a tagger's."""
    run = tmp_path_factory.mktemp("broken") / "run"
    shutil.copytree(trained("classify"), run)
    for name, content in bad_files((run / "checkpoints" / "last.ckpt").read_bytes()).items():
        (run / "checkpoints" / name).write_bytes(content)
    shutil.copy(trained("ner") / "checkpoints" / "last.ckpt", run / "checkpoints" / "tagger.ckpt")
    return run


@pytest.mark.parametrize("name", EXPECTED)
def test_each_unusable_file_is_one_line_naming_it(broken_run, name):
    path = broken_run / "checkpoints" / name
    with pytest.raises(ConfigError) as error:
        load_checkpoint(path, "ckpt")
    assert str(error.value).startswith(f"ckpt: {path} ") and EXPECTED[name] in str(error.value)


CLI = {  # entry point, checkpoint: what the one line says
    ("seqexp.predict", "random.ckpt"): EXPECTED["random.ckpt"],
    ("seqexp.evaluate", "evil.ckpt"): EXPECTED["evil.ckpt"],
    ("seqexp.predict", "tagger.ckpt"): "was trained by seqexp.tasks.tag.Tagger, but its run's config "
                                       "(.hydra/config.yaml) is for seqexp.tasks.classify.Classifier",
    ("seqexp.evaluate", "half.ckpt"): EXPECTED["half.ckpt"],
}


def test_evaluate_and_predict_refuse_them_in_one_line(broken_run):
    def run(case):
        module, name = case
        return run_module(module, f"ckpt={broken_run / 'checkpoints' / name}", stdin="what is it ?\n", timeout=300)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for (module, name), proc in zip(CLI, pool.map(run, CLI), strict=True):
            out = proc.stdout + proc.stderr
            assert proc.returncode == 2 and "Traceback" not in out and "PWNED" not in out, out[-2000:]
            assert f"ckpt: {broken_run / 'checkpoints' / name} {CLI[module, name]}" in out, out[-2000:]


def test_resume_auto_falls_back_from_a_corrupt_last_checkpoint(trained, tmp_path):
    """An unfinished run (no metrics.json) whose last.ckpt was cut short: the rerun resumes from the newest
    readable checkpoint beside it and says so; with none readable it says to pass resume=never."""
    run = tmp_path / "run"
    shutil.copytree(trained("classify"), run)
    (run / "metrics.json").unlink()
    last = run / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])
    command = ["task=classify", "model=gru", "trainer.max_epochs=1", "+trainer.limit_train_batches=40"]  # as trained
    proc = run_seqexp(run, *command, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert f"resume: {last} is not a readable checkpoint" in out and "resuming from epoch00.ckpt instead" in out
    assert read_metrics(run)["resumed_from"].endswith("epoch00.ckpt")

    (run / "metrics.json").unlink()
    for ckpt in (run / "checkpoints").glob("*.ckpt"):
        ckpt.write_bytes(b"")
    proc = run_seqexp(run, *command, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "Traceback" not in out, out[-3000:]
    assert "no other checkpoint of that run is readable: rerun with resume=never to start afresh" in out
