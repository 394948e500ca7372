"""The one check of a composed config, before anything is built. The schema is the code itself: each ``_target_``
node's keys are checked against its target's signature (unknown keys, types, ``Literal`` choices and the ranges
of ``seqexp.constraints``, ``???`` values left unset), the top-level keys against ``Run``, the optimizer and
scheduler are built once on a dummy parameter (torch checks its own settings), and the task's head must be able
to read the data module's examples. Each problem is one ConfigError naming the full key."""

import difflib
import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from seqexp.constraints import Keywords, Positive, Range
from seqexp.data.base import SeqDataModule
from seqexp.errors import ConfigError, first_line
from seqexp.run.build import CONF
from seqexp.run.hints import conforms, describe, is_target, split
from seqexp.tasks.base import SeqTask

SPECIAL = ("_target_", "_partial_", "_recursive_", "_convert_", "_args_")  # Hydra's keys, not arguments
GROUPS = ("data", "task", "model", "trainer", "logger", "callbacks", "optimizer", "scheduler")
READ_BY_RUN = {"model": {"init_from": str | None}}  # keys the build reads itself (run.build), not the target
KINDS = {"data": SeqDataModule, "task": SeqTask, "model": torch.nn.Module}  # what each group's _target_ must be


@dataclass
class Run:
    """The top-level keys of conf/train.yaml (the config groups aside)."""

    seed: Annotated[int, Range(0, 2**32 - 1)]
    resume: str | None  # auto | never | a checkpoint
    ensemble: bool
    output_root: str
    data_dir: str
    monitor: str
    monitor_mode: Literal["min", "max"]
    threads: Annotated[int, Positive] | None  # torch's intra-op threads (run.fit.threads)


def check_config(cfg: DictConfig, groups: Sequence[str] = GROUPS, top: bool = True) -> None:
    """Raise a ConfigError for the first invalid value of ``cfg``'s ``groups`` (and top-level keys, ``top``)."""
    if top:
        check_keys(Run, cfg, "", skip={*GROUPS, "hydra"})
    for group in groups:
        if group in cfg:
            check_kind(cfg, group)
            _walk(cfg, group, group, READ_BY_RUN.get(group, {}))
    if {"task", "data"} <= set(groups) and cfg.get("task") is not None and cfg.get("data") is not None:
        check_reads(cfg)
    if "optimizer" in groups:
        check_optimizer(cfg)


def check_kind(cfg: DictConfig, group: str) -> None:
    """The data, task and model groups name a data module, a head and an encoder: any other ``_target_`` (a run
    config that says ``os.system``) is refused before it is called."""
    kind = KINDS.get(group)
    if kind is None or not is_target(cfg.get(group)):
        return
    target = _target(cfg[group], group)
    if not (isinstance(target, type) and issubclass(target, kind)):
        raise ConfigError(f"{group}._target_: {cfg[group]._target_} is not a {kind.__module__}.{kind.__qualname__}: "
                          f"the {group} config names one")
    reader = cfg[group].get("reader") if group == "data" else None
    if is_target(reader) and not getattr(_target(reader, "data.reader"), "__module__", "").startswith("seqexp.data."):
        raise ConfigError(f"data.reader._target_: {reader._target_} is not one of seqexp's readers (seqexp.data.*)")


def check_keys(target: Callable, node: DictConfig | Mapping, prefix: str, skip: set[str] = frozenset(),
               hints: Mapping[str, str] | None = None) -> None:
    """Every key of ``node`` (``prefix.key`` in messages) against the keyword parameters of ``target``."""
    params, open_ = parameters(target)
    for key in node:
        if key in SPECIAL or key in skip:
            continue
        name = f"{prefix}.{key}" if prefix else str(key)
        value = _value(node, key, name)
        if key not in params:
            if not open_:
                raise ConfigError(f"{name}: unknown key for {_name(target)} ({_suggest(key, params, hints)})")
        else:
            check_value(value, params[key], name)
        _walk(node, key, name)


def check_value(value: Any, hint: Any, name: str) -> None:
    """``value`` against a parameter's type hint: its type, ``Literal`` choices, Annotated ranges and keywords."""
    if not conforms(value, hint):
        raise ConfigError(f"{name} must be {describe(hint)}, got {_show(value)}")
    for mark in split(hint)[1]:
        if isinstance(mark, Keywords) and isinstance(value, Mapping | DictConfig):
            check_keys(mark.target, value, name, hints=dict(mark.hints))


@cache
def parameters(target: Callable) -> tuple[dict[str, Any], bool]:
    """(keyword parameter -> type hint, whether other keywords are accepted too) of a function or a class; a
    class's ``**kwargs`` are followed to its bases' ``__init__``, as they are passed on."""
    params: dict[str, Any] = {}
    functions = [vars(c)["__init__"] for c in target.__mro__ if "__init__" in vars(c)] \
        if isinstance(target, type) else [target]
    for function in functions:
        function = inspect.unwrap(function)
        try:
            hints = typing.get_type_hints(function, include_extras=True)
        except Exception:  # noqa: BLE001 - a library's unresolvable annotation: check its keys, not its types
            hints = {}
        signature = inspect.signature(function)
        for p in signature.parameters.values():
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                params.setdefault(p.name, hints.get(p.name, Any))
        if not any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
            return params, False
    return params, True


def check_reads(cfg: DictConfig) -> None:
    """The task's head declares the data module it reads (``SeqTask.reads``): ``task=ner data=trec`` is refused
    here, naming the data configs that fit, rather than failing inside the first batch."""
    head, data = _target(cfg.task, "task"), _target(cfg.data, "data")
    needs = getattr(head, "reads", None)
    if needs is None or not isinstance(data, type) or issubclass(data, needs):
        return
    task, given = _choice("task", head.__name__), _choice("data", data.__name__)
    raise ConfigError(f"data={given} does not fit task={task}: {head.__name__} reads the examples of a "
                      f"{needs.__name__}, data={given} gives a {data.__name__} (data configs that fit: "
                      f"{', '.join(data_configs(needs)) or 'none'})")


def check_optimizer(cfg: DictConfig) -> None:
    """Build the optimizer (and scheduler) once over a dummy parameter: torch rejects a negative learning rate
    or betas outside [0, 1) itself, and here that happens before the data is read, naming the key."""
    if not is_target(cfg.get("optimizer")):
        raise ConfigError("optimizer: needs a _target_, e.g. optimizer._target_=torch.optim.Adam")
    try:
        optimizer = instantiate(cfg.optimizer)([torch.nn.Parameter(torch.zeros(1))])
    except Exception as e:  # noqa: BLE001 - whatever the optimizer refuses, the config is what is wrong
        raise ConfigError(f"optimizer: {cfg.optimizer._target_} refuses these settings: {first_line(e)}") from None
    scheduler = (cfg.get("scheduler") or {}).get("scheduler")
    if scheduler is not None:
        try:
            instantiate(scheduler)(optimizer)
        except Exception as e:  # noqa: BLE001
            raise ConfigError(f"scheduler.scheduler: {scheduler.get('_target_')} refuses these settings: "
                              f"{first_line(e)}") from None


def data_configs(kind: type) -> list[str]:
    """The data configs (conf/data/NAME.yaml) whose data module is a ``kind``."""
    folder = Path(CONF) / "data"

    def target(name: str) -> str | None:
        text = yaml.safe_load((folder / f"{name}.yaml").read_text()) or {}
        bases = [d for d in text.get("defaults", []) if isinstance(d, str) and not d.startswith(("/", "_"))]
        return text.get("_target_") or (target(bases[0]) if bases else None)

    found = []
    for path in sorted(folder.glob("*.yaml")):
        name = target(path.stem)
        if name and issubclass(get_object(name), kind):
            found.append(path.stem)
    return found


def _walk(parent: DictConfig | ListConfig, key: Any, name: str, own: Mapping[str, Any] = {}) -> None:
    """Check the value at ``parent[key]``, and the ``_target_`` nodes in and below it; ``own`` keys (and their
    types) are the run's to read, not the target's."""
    value = _value(parent, key, name)
    if isinstance(value, DictConfig) and "_target_" in value:
        for extra, hint in own.items():
            if extra in value:
                check_value(_value(value, extra, f"{name}.{extra}"), hint, f"{name}.{extra}")
        check_keys(_target(value, name), value, name, skip=set(own))
    elif isinstance(value, DictConfig):
        for child in value:
            _walk(value, child, f"{name}.{child}")
    elif isinstance(value, ListConfig):
        for i in range(len(value)):
            _walk(value, i, f"{name}[{i}]")


def _value(node: Any, key: Any, name: str) -> Any:
    """``node[key]`` resolved, or a ConfigError naming ``name``: a ``???`` left unset, a broken interpolation."""
    if OmegaConf.is_config(node) and OmegaConf.is_missing(node, key):
        raise ConfigError(f"{name} is required: set it on the command line ({name}=...)")
    try:
        return node[key]
    except OmegaConfBaseException as e:
        raise ConfigError(f"{name}: {first_line(e)}") from None


def _target(node: DictConfig, name: str) -> Callable:
    target = _value(node, "_target_", f"{name}._target_")
    try:
        return get_object(target)
    except Exception:  # noqa: BLE001 - a typo in a module or class path
        raise ConfigError(f"{name}._target_: cannot import {target!r}") from None


def _choice(group: str, default: str) -> str:
    """The config file chosen for ``group`` (``trec`` for ``data``), as the command line names it."""
    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    return choices.get(group) or default


def _suggest(key: str, params: Mapping[str, Any], hints: Mapping[str, str] | None) -> str:
    if hints and key in hints:
        return hints[key]
    close = difflib.get_close_matches(str(key), list(params), n=1)
    return f"did you mean {close[0]}?" if close else f"it takes {', '.join(sorted(params))}"


def _name(target: Callable) -> str:
    return f"{target.__module__}.{target.__qualname__}"


def _show(value: Any) -> str:
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value)
    return "null" if value is None else repr(value)

