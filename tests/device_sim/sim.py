"""A simulated accelerator for CI: Lightning trains on the ``meta`` device, where tensors have shapes and no data,
so every read of a device value on the host is seen, and every host-to-device copy is counted.

``SimStrategy`` runs the real Trainer (its loops, callbacks, logging, clipping, optimizer) with parameters,
optimizer state and the batch's device fields on ``meta``; the batch's host fields stay real CPU tensors, as
``seqexp.data.batch.to_device`` leaves them. ``Watch`` (a ``TorchDispatchMode``) sees every aten call: a copy from
the CPU to ``meta`` outside the batch transfer is an upload, any op that brings a device value to the host (``item``,
``bool``, ``.cpu()``, ``nonzero``) is a read. Reads are answered with zeros (False) so a run goes on and every read
is recorded with where it happened; on CUDA each would be a synchronisation."""

import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytorch_lightning as pl
import torch
from pytorch_lightning.accelerators import CPUAccelerator
from pytorch_lightning.strategies import SingleDeviceStrategy
from torch.utils._python_dispatch import TorchDispatchMode

META = torch.device("meta")
aten = torch.ops.aten
SCALARS = {aten._local_scalar_dense.default, aten.is_nonzero.default, aten.item.default}  # .item(), bool(t)
SIZED_BY_DATA = {aten.nonzero.default, aten.masked_select.default, aten._unique2.default,
                 aten.unique_consecutive.default, aten.bincount.default}  # CUDA reads a count to size the result
COPIES = (aten._to_copy, aten.to, aten.copy_)  # every overload: inference mode dispatches aten.to itself


@dataclass
class Event:
    kind: str  # "read" (device -> host) or "upload" (host -> device)
    phase: str  # "epoch", "transfer" (the batch moving once, allowed), "train", "val", "test"
    step: int  # the trainer's global step
    op: str
    where: str  # the innermost frame of our code, the tests' or Lightning's
    stack: list[str]  # the innermost six of those


class Watch(TorchDispatchMode):
    """Records device reads and uploads by phase; ``SimStrategy`` sets the phase. A read is answered as the
    device would answer (zero, False, every element selected) so the run goes on and every read is seen."""

    def __init__(self):
        super().__init__()
        self.events: list[Event] = []
        self.phase, self.step = "epoch", 0
        self.trainer: pl.Trainer | None = None  # set by SimStrategy

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
        tensors += [i for a in args if isinstance(a, list | tuple) for i in a if isinstance(i, torch.Tensor)]
        on_meta = any(t.device == META for t in tensors)
        if on_meta and func in SCALARS:
            self._record("read", func)
            return False if func == aten.is_nonzero.default or args[0].dtype == torch.bool else 0
        if on_meta and (func in SIZED_BY_DATA or func == aten.index.Tensor and any(
                i is not None and i.dtype in (torch.bool, torch.uint8) for i in args[1])):  # t[mask]
            self._record("read", func)
            with torch.fx.experimental._config.patch(meta_nonzero_assume_all_nonzero=True):
                return _sized(func, args, kwargs)
        if func.overloadpacket in COPIES:
            source, target = _copy_devices(func, args, kwargs)
            if source == META and target.type == "cpu":
                self._record("read", func)
                return torch.zeros(args[0].shape, dtype=kwargs.get("dtype") or args[0].dtype)
            if source.type == "cpu" and target == META:
                self._record("upload", func)
        return func(*args, **kwargs)

    def reads(self, phase: str) -> list[Event]:
        return [e for e in self.events if e.kind == "read" and e.phase == phase]

    def uploads(self, phase: str) -> list[Event]:
        return [e for e in self.events if e.kind == "upload" and e.phase == phase]

    @contextmanager
    def during(self, phase: str) -> Iterator[None]:
        before, self.phase = self.phase, phase
        try:
            yield
        finally:
            self.phase = before

    def labelled(self, phase: str, method: Callable) -> Callable:
        """``method`` running in ``phase``; a training step also notes the step number."""
        def run(*args, **kwargs):
            if phase == "train":
                self.step = self.trainer.global_step
            with self.during(phase):
                return method(*args, **kwargs)
        return run

    def _record(self, kind: str, func) -> None:
        frames = [f for f in traceback.extract_stack()[:-3] if ("/seqexp/" in f.filename or "lightning" in f.filename
                  or "/tests/" in f.filename) and "apply_func" not in f.filename]
        where = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in frames[-6:]]
        self.events.append(Event(kind, self.phase, self.step, str(func), where[-1] if where else "?", where))

    def seen(self, kind: str, phases: tuple[str, ...] = ("train", "val", "test")) -> list[Event]:
        return [e for e in self.events if e.kind == kind and e.phase in phases]


def _sized(func, args, kwargs):
    """A data-sized result on ``meta``, as if every element were selected (bincount: ``minlength`` bins)."""
    if func == aten.bincount.default:
        return torch.zeros(kwargs.get("minlength", args[2] if len(args) > 2 else 0), dtype=torch.long, device=META)
    return func(*args, **kwargs)


def _copy_devices(func, args, kwargs) -> tuple[torch.device, torch.device]:
    if func.overloadpacket == aten.copy_:  # copy_(dst, src)
        return args[1].device, args[0].device
    given = [a for a in args[1:] if isinstance(a, torch.device | str)]
    return args[0].device, torch.device(kwargs.get("device") or (given[0] if given else args[0].device))


class SimAccelerator(CPUAccelerator):
    """Lightning's CPU accelerator, taking ``meta`` for its device."""

    def setup_device(self, device: torch.device) -> None:
        pass


class SimStrategy(SingleDeviceStrategy):
    """One ``meta`` device; tells ``Watch`` which phase runs: the batch transfer (the one allowed upload), a
    training, validation or test step (everything Lightning runs per batch: hooks, callbacks, step logging), or
    the rest ("epoch": loop setup, epoch ends, teardown)."""

    def __init__(self, watch: Watch):
        super().__init__(device=META, accelerator=SimAccelerator())
        self.watch = watch

    def batch_to_device(self, batch, device=None, dataloader_idx: int = 0):
        with self.watch.during("transfer"):
            return super().batch_to_device(batch, device, dataloader_idx)

    def connect_loops(self, trainer: pl.Trainer) -> None:
        """Label the loops' per-batch methods with their phase."""
        watch, train = self.watch, trainer.fit_loop.epoch_loop
        watch.trainer = trainer
        for loop, name, phase in ((train, "advance", "train"), (train, "on_advance_end", "train"),
                                  (train.val_loop, "run", "epoch"), (train.val_loop, "_evaluation_step", "val"),
                                  (trainer.test_loop, "run", "epoch"), (trainer.test_loop, "_evaluation_step", "test")):
            setattr(loop, name, watch.labelled(phase, getattr(loop, name)))


def simulate(trainer: pl.Trainer, model: pl.LightningModule, data: pl.LightningDataModule, test: bool = True) -> Watch:
    """Fit (and test) ``model`` with ``trainer`` (made with ``strategy=SimStrategy(watch)``); the recorded events."""
    strategy = trainer.strategy
    strategy.connect_loops(trainer)
    with strategy.watch:
        trainer.fit(model, datamodule=data)
    if test:
        with strategy.watch:
            trainer.test(model, datamodule=data, verbose=False)
    return strategy.watch
