"""Chunk tagging schemes (IOB1, BIO/IOB2, BIOES): spans, conversion, validation and CRF transition masks.

Spans follow conlleval's rules, so scores match conlleval and seqeval's default mode, and a file that breaks
its scheme (an I- tag after O) is read the way conlleval reads it.
"""

from collections.abc import Sequence
from typing import Literal, get_args

import torch
from torch import Tensor

Scheme = Literal["iob1", "bio", "bioes"]
SCHEMES = get_args(Scheme)
_PREFIXES = {"iob1": "BI", "bio": "BI", "bioes": "BIES"}
_NAMES = {"iob1": "IOB1", "bio": "BIO", "bioes": "BIOES"}


def split_tag(tag: str) -> tuple[str, str]:
    """``(prefix, type)``; anything that is not ``P-TYPE`` with P in BIES (O, ``<pad>``) is ``("O", "")``."""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BIES":
        return tag[0], tag[2:]
    return "O", ""


def _known(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tagging scheme {scheme!r} (expected one of {', '.join(SCHEMES)})")
    return scheme


def spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """``(type, start, end)`` chunks, end exclusive, by conlleval's rules for any of the three schemes.

    A chunk starts at B-/S-, at I-/E- after O, E- or S-, and at a change of type; it ends before one of those
    and after E-/S-. Tags that are not ``P-TYPE`` (O, ``<pad>``) are outside chunks.
    """
    chunks = []
    prev, prev_type, start = "O", "", 0
    for i, tag in enumerate([*tags, "O"]):
        prefix, type_ = split_tag(tag)
        if prev != "O" and (prev in "ES" or prefix in "BSO" or type_ != prev_type):
            chunks.append((prev_type, start, i))
        if prefix != "O" and (prefix in "BS" or prev in "ESO" or type_ != prev_type):
            start = i
        prev, prev_type = prefix, type_
    return chunks


def problems(tags: Sequence[str], scheme: str, strict: bool = False) -> list[tuple[int, str]]:
    """``(position from 0, description)`` of each tag outside the scheme; with ``strict``, also of each chunk
    boundary the scheme forbids (BIO: a chunk starting with I-; BIOES: also one not ending in E-/S-).

    IOB1 has no strict rules here: a chunk may start with I- there, and conlleval accepts a B- anywhere.
    """
    allowed = _PREFIXES[_known(scheme)]
    found = []
    for i, tag in enumerate(tags):
        prefix, _ = split_tag(tag)
        if tag != "O" and prefix not in allowed:
            *others, final = ["O", *(f"{p}-TYPE" for p in allowed)]
            expected = f"{', '.join(others)} or {final}"
            found.append((i, f"tag {tag!r} is not a {_NAMES[scheme]} tag (expected {expected})"))
    if found or not strict or scheme == "iob1":
        return found
    for type_, start, end in spans(tags):
        first, last = tags[start][0], tags[end - 1][0]
        if first == "I" or (scheme == "bioes" and first == "E"):
            expected = "S" if end - start == 1 and scheme == "bioes" else "B"
            before = repr(tags[start - 1]) if start else "the sentence start"
            found.append((start, f"{tags[start]!r} after {before} starts a chunk; {_NAMES[scheme]} needs "
                                 f"{expected}-{type_} there"))
        if scheme == "bioes" and last in "BI" and not (first == "I" and end - start == 1):
            expected = "S" if end - start == 1 else "E"
            found.append((end - 1, f"{tags[end - 1]!r} ends a chunk; BIOES needs {expected}-{type_} there"))
    return sorted(found)


def check(tags: Sequence[str], scheme: str, strict: bool = False) -> str | None:
    """The first of ``problems`` as one line (``token N: ...``, counting from 1), or None if the tags are fine."""
    found = problems(tags, scheme, strict)
    return f"token {found[0][0] + 1}: {found[0][1]}" if found else None


def convert(tags: Sequence[str], source: str, target: str) -> list[str]:
    """Re-tag from one scheme to another through ``spans``; a chunk that broke ``source`` (I- after O)
    comes out well-formed, as conlleval would have read it. Tags outside ``source`` raise ValueError."""
    error = check(tags, source)
    if error:
        raise ValueError(error)
    _known(target)
    out = ["O"] * len(tags)
    prev_type, prev_end = "", -1
    for type_, start, end in spans(tags):
        if target == "bioes" and end - start == 1:
            out[start] = f"S-{type_}"
            continue
        out[start:end] = [f"I-{type_}"] * (end - start)
        if target == "bioes":
            out[start], out[end - 1] = f"B-{type_}", f"E-{type_}"
        elif target == "bio" or (prev_end == start and prev_type == type_):  # IOB1: B- only between twins
            out[start] = f"B-{type_}"
        prev_type, prev_end = type_, end
    return out


def allowed_transitions(labels: list[str], scheme: str) -> tuple[Tensor, Tensor, Tensor]:
    """Bool masks of what ``scheme`` allows: ``transitions [K, K]`` (from, to), ``start [K]``, ``end [K]``.

    For a CRF to rule out paths no well-formed sequence takes. Labels that are not ``P-TYPE`` (O) are free;
    a ``P-TYPE`` label whose prefix the scheme lacks raises ValueError.
    """
    parts = [split_tag(label) for label in labels]
    bad = [label for label, (p, _) in zip(labels, parts, strict=True) if p not in _PREFIXES[_known(scheme)] + "O"]
    if bad:
        raise ValueError(f"labels {bad} are not {_NAMES[scheme]} tags")

    def follows(prev: tuple[str, str] | None, cur: tuple[str, str]) -> bool:
        """Whether ``cur`` may follow ``prev`` (None: the sentence start; ``cur`` ("O", ""): its end)."""
        (p, t), (c, u) = prev or ("O", ""), cur
        same_chunk_type = p in "BI" and t == u
        if scheme == "bio":  # I- only inside a chunk of its type
            return c != "I" or same_chunk_type
        if scheme == "iob1":  # B- only right after a chunk of its type
            return c != "B" or same_chunk_type
        if p in "BI":  # bioes: an open chunk goes on with I-/E- of its type
            return c in "IE" and same_chunk_type
        return c not in "IE"

    transitions = torch.tensor([[follows(a, b) for b in parts] for a in parts], dtype=torch.bool)  # [K, K]
    start = torch.tensor([follows(None, b) for b in parts], dtype=torch.bool)  # [K]
    end = torch.tensor([follows(a, ("O", "")) for a in parts], dtype=torch.bool)  # [K]
    return transitions, start, end
