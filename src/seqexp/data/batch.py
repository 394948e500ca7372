"""One batch: an example's words as ids (shared with prediction on raw text), examples padded into a batch with
their lengths sorted on the host for packing, the batch on the device with host copies of what packing reads, and
those lengths as the encoder packs by (``seqexp.models.packing.Lengths``)."""

import torch
from torch.nn.utils.rnn import pad_sequence

from seqexp.data.vocab import Vocab
from seqexp.models.packing import Lengths, length_order


def encode_words(words: list[str], vocab: Vocab, lowercase: bool, chars: Vocab | None = None,
                 max_word_len: int | None = None) -> dict:
    """``tokens [T]`` (and ``chars [T, W]``, W <= ``max_word_len``, when the model reads characters) of one
    example's words; shared by the data modules and by prediction on raw text, so both see the same ids."""
    item = {"tokens": torch.tensor(vocab.encode(w.lower() if lowercase else w for w in words))}
    if chars is not None:
        item["chars"] = pad_sequence([torch.tensor(chars.encode(w[:max_word_len])) for w in words], batch_first=True)
    return item


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Pad every sequence field to the batch's longest; stack scalar fields. Lengths are counted here, on the
    host, where packing needs them, and sorted here too (``seqexp.models.packing``): ``order`` [B] lists the
    sequences longest first and ``unorder`` [B] is its inverse (``char_order``, ``char_unorder`` [B*T] for words)."""
    batch = {"lengths": torch.tensor([len(x["tokens"]) for x in items])}  # [B]
    for key in items[0]:
        values = [x[key] for x in items]
        if key == "chars":
            width = max(v.size(1) for v in values)
            values = [torch.nn.functional.pad(v, (0, width - v.size(1))) for v in values]  # [T_i, W]
        batch[key] = pad_sequence(values, batch_first=True) if values[0].dim() else torch.stack(values)
    if "chars" in batch:
        batch["char_lengths"] = (batch["chars"] != 0).sum(-1)  # [B, T]; 0 is the character vocabulary's <pad>
    return sort_lengths(batch)  # tokens [B, T], chars [B, T, W], tags [B, T] or labels [B]


def sort_lengths(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``batch`` (on the host) with the length order of its ``lengths`` and ``char_lengths``, for packing."""
    for name, prefix in (("lengths", ""), ("char_lengths", "char_")):
        if name in batch:
            order = length_order(_packed(batch[name], name))  # [N]
            batch[f"{prefix}order"], batch[f"{prefix}unorder"] = order, torch.argsort(order)
    return batch


HOST = ("lengths", "char_lengths", "order", "char_order")
"""Batch fields the encoder packs by: ``to_device`` keeps them on the host too, as ``host_<name>``, because
packing reads them there and copying them back from the GPU every step would wait for it."""


def to_device(batch: dict[str, torch.Tensor], device: torch.device | str) -> dict[str, torch.Tensor]:
    """The batch on ``device``, plus host copies of the ``HOST`` fields: the one time it crosses."""
    return {**{k: v.to(device, non_blocking=True) for k, v in batch.items()},
            **{f"host_{k}": batch[k] for k in HOST if k in batch}}


def lengths_of(batch: dict[str, torch.Tensor], name: str = "lengths") -> Lengths | None:
    """The batch's ``lengths`` (or ``char_lengths``, one per word) as the encoder packs by, from the fields
    collate sorted and ``to_device`` moved: nothing is copied. A batch that never left the host is its own
    host copy; one that no collate made (built by hand) packs as torch packs it (``Lengths.of``)."""
    if name not in batch:
        return None
    prefix = "char_" if name == "char_lengths" else ""
    host = batch.get(f"host_{name}", batch[name])
    if f"{prefix}order" not in batch:
        return Lengths.of(_packed(host, name), batch[name].device)
    return Lengths(_packed(host, name), _packed(batch[name], name), batch[f"{prefix}order"],
                   batch[f"{prefix}unorder"], batch.get(f"host_{prefix}order", batch[f"{prefix}order"]))


def _packed(lengths: torch.Tensor, name: str) -> torch.Tensor:
    """``[N]`` lengths as packed: characters per word flattened over the batch, an empty word read as one pad."""
    return lengths.reshape(-1).clamp(min=1) if name == "char_lengths" else lengths
