"""Bad input through the real command line: one line naming the key or file:line, exit code non-zero, no
traceback and no metrics.json; or a documented repair, counted in the log, and a finished run."""

import gzip
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from helpers import QUICK, run_module, run_seqexp

GOOD_TSV = "".join(f"text number {i}\t{'ab'[i % 2]}\n" for i in range(20))
GOOD_CONLL = "EU B-ORG\nrejects O\nGerman B-MISC\n\nPeter B-PER\nBlackburn I-PER\n\n" * 5
CONLLU_WORD = "1\tdo\tdo\tAUX\t_\t_\t0\troot\t_\t_\n"
FILES = {
    "good.tsv": GOOD_TSV,
    "empty.tsv": "",
    "blank.tsv": "\n\n \t \n\n",
    "bad.tsv": "good\tx\nno label\n",
    "nolabel.tsv": "some text\t\n",
    "notokens.tsv": GOOD_TSV + "  \ta\n",
    "test.tsv": "a\ta\nb\tzz\n",
    "latin1.tsv": GOOD_TSV.encode() + b"caf\xe9 au lait\ta\n",
    "windows.tsv": b"\xef\xbb\xbf" + "".join(f"word{i % 7}\t{'ab'[i % 2]}\r\n" for i in range(19)).encode()
                   + b'"quoted word\ta\r\n',  # a TSV field may start with a quote
    "runaway.tsv": GOOD_TSV + "w " * 100_000 + "\tb\n" + "x" * 2_000_000 + "\ta\n",  # 100k words; a 2 MB word
    "mac.tsv": "one\ta\rtwo\tb\rthree\rfour\ta\r",  # old Mac line ends: line 3 has no label
    "fake.tsv.gz": GOOD_TSV,
    "cut.tsv.gz": gzip.compress("".join(f"text {i * i}\t{'ab'[i % 2]}\n" for i in range(5000)).encode())[:9000],
    "bad.csv": 'text,label\n"unclosed quote,a\n',
    "one_label.tsv": "".join(f"text number {i}\ta\n" for i in range(20)),
    "only_o.conll": "EU O\nrejects O\n\nPeter O\n\n" * 5,
    "vec.txt": "text 0.1 0.2 0.3 0.4\nnumber 0.1 0.2 0.3\n",
    "good.conll": GOOD_CONLL,
    "ragged.conll": "EU B-ORG\nrejects\n",
    "badtag.conll": "EU X-ORG\nrejects O\n",
    "orphan.conll": GOOD_CONLL + "Peter O\nBlackburn I-PER\n",
    "docstart.conll": "-DOCSTART- O\n\n",
    "unseen.conll": "Paris B-LOC\n",
    "range.conllu": "# text = don't\n3-1\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n" + CONLLU_WORD,
    "id.conllu": CONLLU_WORD.replace("1", "1.x", 1),
    "fields.conllu": "1\tdo\tdo\tAUX\t_\t_\t0\troot\t_\n",
    "p.en": "one\ntwo\nthree\n",
    "p.fr": "un\ndeux\n",
    "q.en": "hello\nworld\n",
    "q.fr": "bonjour\n\n",
}
TSV, NER, POS = ["data=tsv"], ["task=ner", "data=conll"], ["task=pos", "data=conllu"]
SEQ2SEQ = ["task=seq2seq", "data=parallel", "data.src=en", "data.tgt=fr"]
CONLL_SPLITS = ["data.val={d}/good.conll", "data.test={d}/good.conll"]

FAILURES = {  # case: (overrides, what the one-line error says); {d} is the directory of FILES
    # configs
    "unknown_model": (["model=transformer"], "Could not find 'model/transformer'"),
    "unknown_task": (["task=dance"], "Could not find 'task/dance'"),
    "negative_hidden": (["model.hidden_size=-5"], "model.hidden_size must be a positive integer, got -5"),
    "zero_layers": (["model.num_layers=0"], "model.num_layers must be a positive integer, got 0"),
    "bad_dropout": (["model.dropout=1.5"], "model.dropout must be in [0, 1), got 1.5"),
    "unknown_cell": (["model.cell=lstmm"], "model.cell: unknown cell 'lstmm'"),
    "not_a_data_module": (["data._target_=os.system"],
                          "data._target_: os.system is not a seqexp.data.base.SeqDataModule"),
    "not_a_reader": (["data.reader._target_=os.system"],
                     "data.reader._target_: os.system is not one of seqexp's readers"),
    "library_refuses": (["trainer.accelerator=tpu"], "trainer: Error in call to target "
                        "'pytorch_lightning.trainer.trainer.Trainer': Requirement 'torch_xla"),
    "lnlstm_cudnn": (["model=lnlstm", "model.impl=cudnn"], "model.cell=lnlstm needs model.impl=scratch"),
    "unknown_init": (["model.init=xavier"], "model.init must be one of default, chrono, orthogonal, identity, got "
                                            "'xavier'"),
    "chrono_without_gates": (["model=rnn", "model.init=chrono"], "model.init=chrono sets gate biases: model.cell=rnn "
                                                                "has no gates"),
    "bidirectional_decoder": (["task=seq2seq", "+task.decoder.bidirectional=true"],
                              "task.decoder.bidirectional: unknown key for seqexp.models.decoder.Decoder (a decoder "
                              "generates left to right, so it cannot be bidirectional"),
    "seed_not_an_integer": (["seed=abc"], "seed must be an integer in [0, 4294967295], got 'abc'"),
    "max_epochs_not_an_integer": (["trainer.max_epochs=abc"], "trainer.max_epochs must be an integer or null, got "
                                                              "'abc'"),
    "negative_learning_rate": (["optimizer.lr=-1"], "optimizer: torch.optim.Adam refuses these settings: Invalid "
                                                    "learning rate: -1"),
    "null_required_path": ([*TSV, "data.train=null"], "data.train must be a string or a list of strings, got null"),
    "task_with_data_of_another_kind": (["task=ner", "data=trec"], "data=trec does not fit task=ner: Tagger reads "
                                                                  "the examples of a TaggingDataModule"),
    "checkpoints_outside_run": (["callbacks.checkpoint.dirpath={d}/elsewhere"],
                                "callbacks.checkpoint.dirpath={d}/elsewhere is outside the run dir"),
    "missing_file": ([*TSV, "data.train={d}/nope.tsv"], "data.train: file not found: {d}/nope.tsv"),
    "offline_download": (["data=sst2", "data_dir={d}/nodata"],
                         "download it yourself and put it at {d}/nodata/sst2/SST-2.zip"),
    "conll2003_not_placed": (["task=ner", "data=conll2003", "data_dir={d}/nodata"], "{d}/nodata/conll2003"),
    # TSV
    "truncated_gz": ([*TSV, "data.train={d}/cut.tsv.gz"], "{d}/cut.tsv.gz: not a readable gzip file (cut short, "
                                                          "or not compressed)"),
    "plain_file_named_gz": ([*TSV, "data.train={d}/fake.tsv.gz"], "{d}/fake.tsv.gz: not a readable gzip file"),
    "old_mac_line_ends": ([*TSV, "data.train={d}/mac.tsv"], "{d}/mac.tsv:3: expected at least 2 tab-separated "
                                                            "columns"),
    "csv_quote_left_open": (["data=csv", "data.train={d}/bad.csv", "data.reader.header=true"],
                            "{d}/bad.csv:2: unexpected end of data (CSV quoting; data.reader.quoting=none reads "
                            "quotes as text)"),
    "a_single_label": ([*TSV, "data.train={d}/one_label.tsv"], "data.train ({d}/one_label.tsv): only label 'a' in "
                                                               "the training data; a model needs at least two"),
    "empty_file": ([*TSV, "data.train={d}/empty.tsv"], "{d}/empty.tsv: no examples"),
    "blank_lines": ([*TSV, "data.train={d}/blank.tsv"], "{d}/blank.tsv: no examples"),
    "bad_utf8": ([*TSV, "data.train={d}/latin1.tsv"],
                 "{d}/latin1.tsv:21: not valid UTF-8 (byte 0xe9 at column 4); set the data config's "
                 "encoding_errors=replace"),
    "tsv_without_label": ([*TSV, "data.train={d}/bad.tsv"], "{d}/bad.tsv:2: expected at least 2 tab-separated "
                          "columns (text in 0, label in 1), got 1"),
    "empty_label": ([*TSV, "data.train={d}/nolabel.tsv"], "{d}/nolabel.tsv:1: empty label in column 1"),
    "zero_tokens": ([*TSV, "data.train={d}/notokens.tsv"], "{d}/notokens.tsv:21: the text has no tokens"),
    "unseen_test_label": ([*TSV, "data.train={d}/good.tsv", "data.test={d}/test.tsv"],
                          "{d}/test.tsv:2: label 'zz' does not occur in the training data"),
    "vectors_wrong_dim": ([*TSV, "data.train={d}/good.tsv", "data.vectors={d}/vec.txt"],
                          "{d}/vec.txt:2: expected 4 values after the word, got 3"),
    # CoNLL
    "conll_only_o_tags": ([*NER, "data.train={d}/only_o.conll", *CONLL_SPLITS],
                          "data.train ({d}/only_o.conll): only tag 'O' in the training data"),
    "conll_ragged": ([*NER, "data.train={d}/ragged.conll", *CONLL_SPLITS],
                     "{d}/ragged.conll:2: 1 column(s), but the first token line (line 1) has 2"),
    "conll_tag_outside_scheme": ([*NER, "data.train={d}/badtag.conll", *CONLL_SPLITS],
                                 "{d}/badtag.conll:1: tag 'X-ORG' is not a BIO tag"),
    "conll_orphan_i_strict": ([*NER, "data.train={d}/orphan.conll", *CONLL_SPLITS, "data.reader.strict=true"],
                              "'I-PER' after 'O' starts a chunk; BIO needs B-PER there (data.reader.strict=false "
                              "reads it as conlleval does)"),
    "conll_only_docstart": ([*NER, "data.train={d}/docstart.conll", *CONLL_SPLITS], "{d}/docstart.conll: no "),
    "conll_unseen_test_tag": ([*NER, "data.train={d}/good.conll", "data.val={d}/good.conll",
                               "data.test={d}/unseen.conll"],
                              "{d}/unseen.conll:1: tag 'B-LOC' does not occur in the training data"),
    # CoNLL-U
    "conllu_bad_range": ([*POS, "data.train={d}/range.conllu"],
                         "{d}/range.conllu:2: multiword token range '3-1' ends before it starts"),
    "conllu_malformed_id": ([*POS, "data.train={d}/id.conllu"], "{d}/id.conllu:1: malformed ID '1.x'"),
    "conllu_nine_fields": ([*POS, "data.train={d}/fields.conllu"],
                           "{d}/fields.conllu:1: expected 10 tab-separated CoNLL-U fields, got 9"),
    # parallel text and running text
    "parallel_lengths": ([*SEQ2SEQ, "data.train={d}/p"],
                         "{d}/p.en has 3 lines but {d}/p.fr has 2: parallel files must be line-aligned"),
    "parallel_one_side_empty": ([*SEQ2SEQ, "data.train={d}/q"],
                                "{d}/q.fr:2: empty line where the other side has text"),
    "lm_blank_file": (["task=lm", "data=text", "data.train={d}/blank.tsv"], "{d}/blank.tsv: no text"),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("files")
    for name, content in FILES.items():
        (root / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


@pytest.fixture(scope="module")
def failed(files, tmp_path_factory):
    """Every FAILURES command, two at a time (each is mostly Python start-up on one core): case -> (run, proc)."""
    root = tmp_path_factory.mktemp("failed")

    def run(case: str):
        overrides, _ = FAILURES[case]
        return root / case / "run", run_seqexp(root / case / "run", *(o.format(d=files) for o in overrides),
                                               timeout=180)

    for case in FAILURES:
        (root / case).mkdir()
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(FAILURES, pool.map(run, FAILURES), strict=True))


@pytest.mark.parametrize("case", FAILURES)
def test_bad_input_is_one_clear_line(files, failed, case):
    _, expected = FAILURES[case]
    run, proc = failed[case]
    out = proc.stdout + proc.stderr
    errors = [line for line in out.splitlines() if "[ERROR]" in line]
    assert proc.returncode == 2  # Hydra's own complaints too (seqexp.train.main)
    assert expected.format(d=files) in out
    assert "Traceback" not in out and len(errors) <= 1, out[-2000:]
    assert not (run / "metrics.json").exists()


TINY = ["trainer.max_epochs=1", "model.hidden_size=8", "model.embedding_dim=8"]
REPAIRS = {  # case: (overrides, what the log counts); each run then finishes
    "bom_crlf_one_token_lines": ([*TSV, "data.train={d}/windows.tsv"], "data: train 18, val 2"),
    "bad_utf8_replaced_and_runaway_line": (
        [*TSV, "data.train={d}/latin1.tsv", "data.val={d}/runaway.tsv", "data.reader.encoding_errors=replace",
         "model.char=cnn"],
        "latin1.tsv: 1 line(s) had bytes that are not UTF-8, replaced by U+FFFD"),
    "conll_orphan_i_read_as_conlleval": ([*NER, "data.train={d}/orphan.conll", *CONLL_SPLITS],
                                         "orphan.conll: 1 tag(s) break the BIO chunk rules"),
}


@pytest.mark.parametrize("case", REPAIRS)
def test_repairs_are_counted_and_the_run_finishes(files, tmp_path, case):
    overrides, expected = REPAIRS[case]
    run = tmp_path / "run"
    proc = run_seqexp(run, *TINY, *(o.format(d=files) for o in overrides), timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert expected in out
    assert json.loads((run / "metrics.json").read_text())["metrics"]
    hparams = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["hyper_parameters"]
    if case == "bom_crlf_one_token_lines":  # no BOM in the first word, no \r in labels, a quote is text
        assert hparams["labels"] == ["a", "b"] and "word0" in hparams["vocab"] and '"' in hparams["vocab"]
    if case == "bad_utf8_replaced_and_runaway_line":
        assert "\ufffd" in hparams["vocab"]  # the simple tokenizer splits "caf\ufffd" at the non-letter
        assert "runaway.tsv: 1 text(s) longer than data.max_len=1000 tokens, truncated" in out
        assert "data.val: 1 word(s) longer than data.max_word_len=50 characters" in out
        assert {len(c) for c in hparams["chars"][2:]} == {1}  # characters, after <pad> and <unk>


def test_a_failing_sweep_job_does_not_stop_the_others(tmp_path):
    """4 jobs, the second invalid: the other 3 finish, the failure is reported with its overrides, and no
    ensemble is made of the unfinished sweep."""
    sweep = tmp_path / "sweep"
    proc = run_module("seqexp", "-m", *QUICK, "model.hidden_size=16,-5,24,32", "ensemble=true",
                      f"hydra.sweep.dir={sweep}", "trainer.max_epochs=1", "+trainer.limit_train_batches=5",
                      cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    reported = [line for line in out.splitlines() if line.startswith("Error executing job with overrides:")]
    assert len(reported) == 1 and "'model.hidden_size=-5'" in reported[0], reported
    assert "model.hidden_size must be a positive integer, got -5" in out and "Traceback" not in out
    assert [(sweep / job / "metrics.json").is_file() for job in "0123"] == [True, False, True, True]
    assert not (sweep / "ensemble-test.json").exists()
