"""Span-level precision, recall and F1 for chunk tagging (NER, chunking), scored the way conlleval scores."""

import torch
import torch.nn.functional as F
import torchmetrics
from torch import Tensor

from seqexp.data.schemes import allowed_transitions, spans, split_tag


def headline(metric: str, splits: tuple[str, ...] = ("val", "test")) -> bool:
    """Whether ``metric`` is a score a person reads first (the summary line, report.md, the run page): ``SPLIT/NAME``
    for one of ``splits``, not a per-type score such as ``test/f1_person`` (those stay in metrics.json)."""
    split, _, name = metric.partition("/")
    return split in splits and "_" not in name

class SpanF1(torchmetrics.Metric):
    """Micro precision/recall/F1 over exact (type, start, end) spans, plus each per entity type.

    ``labels`` maps tag ids to tags; labels that are not ``P-TYPE`` (O, ``<pad>``) count as outside chunks.
    ``scheme`` only vets the labels: spans follow conlleval's rules in every scheme, as seqeval's default does.
    The states are per-type counts summed across processes, so DDP scores equal one process's over all data.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, labels: list[str], scheme: str = "bio", **kwargs):
        super().__init__(**kwargs)
        allowed_transitions(labels, scheme)  # raises on a label outside the scheme
        self.labels = list(labels)
        self.types = sorted({type_ for prefix, type_ in map(split_tag, labels) if prefix != "O"})
        self.index = {type_: i for i, type_ in enumerate(self.types)}
        for name in ("correct", "predicted", "gold"):
            self.add_state(name, default=torch.zeros(len(self.types), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor, mask: Tensor) -> None:
        """``preds``, ``target``: tag ids [B, T]; ``mask`` [B, T] marks real tokens."""
        correct, predicted, gold = ([0] * len(self.types) for _ in range(3))
        for pred_ids, gold_ids, keep in zip(preds.tolist(), target.tolist(), mask.tolist(), strict=True):
            pred_spans = set(spans([self.labels[i] for i, k in zip(pred_ids, keep, strict=True) if k]))
            gold_spans = set(spans([self.labels[i] for i, k in zip(gold_ids, keep, strict=True) if k]))
            for counts, found in ((predicted, pred_spans), (gold, gold_spans), (correct, pred_spans & gold_spans)):
                for type_, _, _ in found:
                    counts[self.index[type_]] += 1
        for name, counts in (("correct", correct), ("predicted", predicted), ("gold", gold)):
            state = getattr(self, name)
            state += torch.tensor(counts, dtype=state.dtype, device=state.device)  # [types]

    def compute(self) -> dict[str, Tensor]:
        """``f1``, ``precision``, ``recall`` over all spans, and ``f1_<TYPE>``, ``precision_<TYPE>``,
        ``recall_<TYPE>`` per type (the run page's bars); 0 where undefined."""
        scores = _scores(self.correct.sum(), self.predicted.sum(), self.gold.sum())
        per_type = _scores(self.correct, self.predicted, self.gold)  # each [types]
        for name, values in per_type.items():
            scores.update({f"{name}_{type_}": values[i] for i, type_ in enumerate(self.types)})
        return scores


def _scores(correct: Tensor, predicted: Tensor, gold: Tensor) -> dict[str, Tensor]:
    return {"f1": _f1(correct, predicted, gold), "precision": correct / predicted.clamp(min=1),
            "recall": correct / gold.clamp(min=1)}


def _f1(correct: Tensor, predicted: Tensor, gold: Tensor) -> Tensor:
    """2PR / (P + R) written as 2C / (P + G), which is 0 rather than NaN when nothing was predicted or gold."""
    return 2 * correct / (predicted + gold).clamp(min=1)


class TokenAccuracy(torchmetrics.Metric):
    """The share of real tokens tagged right: masked sums, so an update never waits for the GPU (indexing by a
    boolean mask, as torchmetrics' ignore_index does, must read the mask on the host first)."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self):
        super().__init__()
        self.add_state("correct", torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("total", torch.tensor(0), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor, mask: Tensor) -> None:
        """``preds``, ``target``: tag ids [B, T]; ``mask`` [B, T] marks real tokens."""
        self.correct += ((preds == target) & mask).sum()
        self.total += mask.sum()

    def compute(self) -> Tensor:
        return self.correct / self.total.clamp(min=1)


class WeightedMean(torchmetrics.Metric):
    """``sum(value * weight) / sum(weight)`` over an epoch, summed across processes: the epoch loss, exact
    under DDP. torchmetrics' MeanMetric either checks for NaN on the host every step or, with that check
    disabled (``nan_strategy="disable"``, 1.9), silently drops the weights."""

    full_state_update = False

    def __init__(self):
        super().__init__()
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("weight", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, value: Tensor, weight: int) -> None:
        self.total += value.detach().double() * weight
        self.weight += weight

    def compute(self) -> Tensor:
        return (self.total / self.weight).float()


class Regression(torchmetrics.Metric):
    """``mse``, ``within`` (the share of answers off by less than ``tolerance``) and ``baseline_mse`` (always
    answering ``baseline``): sums on the device, so an update never waits for it."""

    is_differentiable = False
    full_state_update = False

    def __init__(self, tolerance: float, baseline: float):
        super().__init__()
        self.tolerance, self.baseline = tolerance, baseline
        for name in ("squared", "within", "baseline_squared", "count"):
            self.add_state(name, torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """``preds``, ``target``: [B]."""
        error = (preds.detach() - target).double()  # [B]
        self.squared += error.square().sum()
        self.within += (error.abs() < self.tolerance).sum()
        self.baseline_squared += (target.double() - self.baseline).square().sum()
        self.count += target.numel()

    def compute(self) -> dict[str, Tensor]:
        count = self.count.clamp(min=1)
        return {"mse": (self.squared / count).float(), "within": (self.within / count).float(),
                "baseline_mse": (self.baseline_squared / count).float()}


class Majority(torchmetrics.Metric):
    """``baseline_acc``: the accuracy of always answering the most frequent target, the best a model without memory
    can do (copy memory: ~1/alphabet). Counts per class on the device, so an update never waits for it."""

    is_differentiable = False
    full_state_update = False

    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.add_state("counts", torch.zeros(num_classes, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """``target``: class ids of any shape; ``preds`` are not read."""
        self.counts += F.one_hot(target.reshape(-1), self.num_classes).sum(0)  # [C]

    def compute(self) -> Tensor:
        return (self.counts.max() / self.counts.sum().clamp(min=1)).float()
