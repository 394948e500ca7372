import random
from pathlib import Path

import pytest
import torch
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from torchmetrics.classification import MulticlassAccuracy

from helpers import DEVICES
from seqexp.data.conll import read_conll
from seqexp.run.resolvers import corpus
from seqexp.tasks.base import mask
from seqexp.tasks.metrics import SpanF1, TokenAccuracy, WeightedMean

WNUT = Path(corpus("wnut17"))  # the bundled copy of ../shared/data/wnut17
LABELS = ["<pad>", "O"] + [f"{p}-{t}" for t in ("corporation", "creative-work", "group", "location", "person",
                                                 "product") for p in "BI"]


@pytest.fixture(scope="module")
def gold() -> list[list[str]]:
    return [s.tags for s in read_conll(WNUT / "emerging.dev.conll.gz")]


def perturb(sentences: list[list[str]], seed: int = 0) -> list[list[str]]:
    """Change ~10% of tags at random, drop some B- (leaving I- starts), retype some chunks."""
    rng = random.Random(seed)
    types = sorted({tag[2:] for tag in LABELS[2:]})
    out = []
    for tags in sentences:
        tags = list(tags)
        for i, tag in enumerate(tags):
            r = rng.random()
            if r < 0.1:
                tags[i] = rng.choice(LABELS[1:])
            elif r < 0.2 and tag.startswith("B-"):
                tags[i] = "O" if r < 0.15 else f"I-{tag[2:]}"
            elif r < 0.3 and tag != "O":
                tags[i] = f"{tag[:2]}{rng.choice(types)}"
        out.append(tags)
    return out


def feed(metric: SpanF1, gold: list[list[str]], pred: list[list[str]], batch_size: int = 64,
         device: str = "cpu") -> None:
    """Padded id tensors and a mask, as a tagging model would pass them."""
    index = {tag: i for i, tag in enumerate(LABELS)}
    for b in range(0, len(gold), batch_size):
        g, p = gold[b:b + batch_size], pred[b:b + batch_size]
        width = max(map(len, g))
        target = torch.zeros(len(g), width, dtype=torch.long)  # [B, T], 0 is <pad>
        preds = torch.full((len(g), width), index["B-person"])  # [B, T], junk under the mask
        mask = torch.zeros(len(g), width, dtype=torch.bool)  # [B, T]
        for row, (gold_tags, pred_tags) in enumerate(zip(g, p, strict=True)):
            target[row, :len(gold_tags)] = torch.tensor([index[t] for t in gold_tags])
            preds[row, :len(pred_tags)] = torch.tensor([index[t] for t in pred_tags])
            mask[row, :len(gold_tags)] = True
        metric.update(preds.to(device), target.to(device), mask.to(device))


@pytest.mark.parametrize("device", DEVICES)
def test_matches_seqeval_on_perturbed_wnut_dev(gold, device):
    pred = perturb(gold)
    metric = SpanF1(LABELS).to(device)
    feed(metric, gold, pred, device=device)
    scores = metric.compute()
    assert scores["f1"].item() == pytest.approx(f1_score(gold, pred), abs=1e-6)
    assert scores["precision"].item() == pytest.approx(precision_score(gold, pred), abs=1e-6)
    assert scores["recall"].item() == pytest.approx(recall_score(gold, pred), abs=1e-6)
    assert 0.3 < scores["f1"].item() < 0.9  # the perturbation bites, but not everything
    report = classification_report(gold, pred, output_dict=True)
    assert set(metric.types) == {key for key in report if "avg" not in key}
    for i, type_ in enumerate(metric.types):
        assert scores[f"f1_{type_}"].item() == pytest.approx(report[type_]["f1-score"], abs=1e-6)
        assert (metric.gold[i] == report[type_]["support"]).item()
        precision, recall = scores[f"precision_{type_}"].item(), scores[f"recall_{type_}"].item()
        assert (precision, recall) == pytest.approx((report[type_]["precision"], report[type_]["recall"]), abs=1e-6)


def test_perfect_and_empty_predictions(gold):
    perfect = SpanF1(LABELS)
    feed(perfect, gold, gold)
    assert all(v.item() == 1.0 for v in perfect.compute().values())
    empty = SpanF1(LABELS)
    feed(empty, gold, [["O"] * len(tags) for tags in gold])
    scores = empty.compute()
    assert all(not v.isnan() for v in scores.values())
    assert (scores["precision"].item(), scores["recall"].item(), scores["f1"].item()) == (0.0, 0.0, 0.0)
    with pytest.warns(UserWarning, match="called before the ``update``"):
        assert SpanF1(LABELS).compute()["f1"].item() == 0.0  # no data at all


@pytest.mark.filterwarnings("ignore:The ``compute`` method")  # ``summed`` gets its states set, not updated
def test_summed_states_of_two_ranks_equal_one_pass(gold):
    pred = perturb(gold, seed=1)
    whole, rank0, rank1 = SpanF1(LABELS), SpanF1(LABELS), SpanF1(LABELS)
    feed(whole, gold, pred)
    half = len(gold) // 2
    feed(rank0, gold[:half], pred[:half])
    feed(rank1, gold[half:], pred[half:])
    summed = SpanF1(LABELS)
    for name in ("correct", "predicted", "gold"):  # what dist_reduce_fx="sum" does across processes
        setattr(summed, name, getattr(rank0, name) + getattr(rank1, name))
    rank0.merge_state(rank1)  # torchmetrics' own merge, through the states' dist_reduce_fx
    expected = whole.compute()
    for merged in (summed.compute(), rank0.compute()):
        assert merged.keys() == expected.keys()
        assert all(torch.equal(merged[k], expected[k]) for k in expected)


def test_span_rules_and_labels():
    metric = SpanF1(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])
    target = torch.tensor([[1, 2, 0, 3, 0]])  # [1, T]: PER 0-2, LOC 3-4
    preds = torch.tensor([[2, 2, 0, 4, 4]])  # [1, T]: I-PER starts PER 0-2 (conlleval); LOC 3-5 is too long
    metric.update(preds, target, torch.ones(1, 5, dtype=torch.bool))
    scores = metric.compute()
    assert metric.types == ["LOC", "PER"]
    assert {k: v.item() for k, v in scores.items()} == {"f1": 0.5, "precision": 0.5, "recall": 0.5,
                                                        "f1_LOC": 0.0, "f1_PER": 1.0, "precision_LOC": 0.0,
                                                        "precision_PER": 1.0, "recall_LOC": 0.0, "recall_PER": 1.0}
    with pytest.raises(ValueError, match="not BIO tags"):
        SpanF1(["O", "S-PER"])
    assert SpanF1(["O", "S-PER", "B-PER", "E-PER"], scheme="bioes").types == ["PER"]


def test_weighted_mean_weights_each_value():
    mean = WeightedMean()
    for value, weight in ((2.0, 30), (4.0, 10), (1.0, 0)):
        mean.update(torch.tensor(value), weight)
    assert mean.compute().item() == pytest.approx((2 * 30 + 4 * 10) / 40)


def test_token_accuracy_is_multiclass_accuracy_over_the_real_tokens():
    """Masked sums (no boolean indexing, which waits for the GPU) give what torchmetrics gives on the real tokens
    picked out by the mask, over several updates."""
    torch.manual_seed(0)
    ours, reference = TokenAccuracy(), MulticlassAccuracy(5, average="micro")
    for _ in range(3):
        lengths = torch.randint(1, 9, (6,))
        m = mask(lengths, 8)  # [B, T]
        preds, target = torch.randint(0, 5, (6, 8)), torch.randint(0, 5, (6, 8))
        ours.update(preds, target, m)
        reference.update(preds[m], target[m])
    assert ours.compute().item() == pytest.approx(reference.compute().item(), abs=1e-7)
