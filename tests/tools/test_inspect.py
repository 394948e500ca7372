"""``python -m seqexp.inspect`` through the real command line, on checkpoints trained through ``python -m seqexp``."""

import re

import pytest
from matplotlib.image import imread

from helpers import run_module
from seqexp.tools.inspect import main

pytestmark = pytest.mark.slow  # trains a small model per head, once per session


def inspect(*args: str):
    return run_module("seqexp.inspect", *args)


def best(run) -> str:
    return str(next((run / "checkpoints").glob("epoch*.ckpt")))


@pytest.mark.parametrize(("task", "pictures"), [
    ("classify", ["hidden_l0", "update_l0", "reset_l0"]),
    ("ner", ["hidden_l0", "update_l0", "reset_l0"]),
    ("lm", ["hidden_l0", "update_l0", "reset_l0"]),
    ("seq2seq", ["hidden_l0", "update_l0", "reset_l0", "attention"]),
])
def test_inspect_draws_units_and_gates_and_attention(trained, tmp_path, task, pictures):
    """A GRU's hidden units and its update and reset gates for each text; the seq2seq model's attention too."""
    texts = tmp_path / "texts.txt"
    texts.write_text("the man went to Paris .\nwhat is it ?\n")
    proc = inspect(f"ckpt={best(trained(task))}", f"input={texts}", "top=5", f"out={tmp_path / 'out'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = (tmp_path / "out" / "inspect.html").read_text()
    for sentence in (0, 1):
        for name in pictures:
            png = tmp_path / "out" / (f"s{sentence}_attention.png" if name == "attention" else
                                      f"s{sentence}_{name}.png")
            assert imread(png).shape[0] > 100
    assert len(re.findall(r'<img alt="', page)) == 2 * len(pictures)
    assert "the man went to Paris ." in page and "the 5 units that vary most" in page


def test_units_picks_the_rows_and_bad_input_is_one_line(trained, tmp_path, capsys):
    ckpt = best(trained("classify"))
    proc = inspect(f"ckpt={ckpt}", "text=who is he ?", "units=[3,0]", f"out={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "units [3, 0]" in (tmp_path / "inspect.html").read_text()
    empty = tmp_path / "empty_line.txt"
    empty.write_text("who is he ?\n\n")
    for args, said in [
        ([f"ckpt={ckpt}", "text=a", "units=[999]"], "units: 999 is not a unit of this encoder"),
        ([f"ckpt={ckpt}"], 'text="..." or input=FILE'),
        ([f"ckpt={ckpt}", "text=a", f"input={empty}"], 'text="..." or input=FILE'),
        ([f"ckpt={ckpt}", f"input={empty}"], f"{empty}:2: empty line"),
        (["ckpt=missing.ckpt", "text=a"], "ckpt: checkpoint not found"),
    ]:
        assert main([*args, f"out={tmp_path / 'bad'}"]) == 2  # in this process: the same boundary, faster
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and said in lines[0], lines


def test_a_model_that_reads_no_text_is_refused(tmp_path):
    from helpers import run_seqexp

    run = tmp_path / "run"
    proc = run_seqexp(run, "task=adding", "trainer.max_epochs=1", "+trainer.limit_train_batches=2",
                      "+trainer.limit_val_batches=1", "+trainer.limit_test_batches=1", "data.length=10")
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = inspect(f"ckpt={best(run)}", "text=1 2 3")
    assert proc.returncode == 2 and "ckpt: a task=" in proc.stderr and "reads no text" in proc.stderr
