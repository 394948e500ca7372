"""The simulated device itself: a step that reads a device value, or copies a host tensor to the device, is seen
on every step it does so, and a clean step is not."""

import pytest
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader

from device_sim.sim import SimStrategy, Watch, simulate

pytestmark = pytest.mark.device_sim


class Toy(pl.LightningModule):
    """A linear model whose training step does one thing wrong, or nothing (``fault=None``)."""

    def __init__(self, fault: str | None):
        super().__init__()
        self.layer, self.fault = nn.Linear(4, 1), fault

    def training_step(self, batch, batch_idx):
        loss = self.layer(batch["x"]).square().mean()
        self.step_device = loss.device
        if self.fault == "item":
            assert loss.item() == 0  # meta: the watch answers zero
        elif self.fault == "bool":
            assert not bool(loss > 1)
        elif self.fault == "mask":
            loss = loss + batch["x"][batch["x"] > 0].sum()
        elif self.fault == "upload":
            loss = loss + torch.ones(1).to(self.device).sum()
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return DataLoader([{"x": torch.randn(4)} for _ in range(8)], batch_size=2)


def train(fault: str | None) -> Watch:
    model = Toy(fault)
    trainer = pl.Trainer(strategy=SimStrategy(Watch()), max_steps=4, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    watch = simulate(trainer, model, None, test=False)
    assert model.step_device == torch.device("meta")  # it really trained there (teardown moves it back)
    return watch


def test_a_clean_step_is_not_seen():
    watch = train(None)
    assert not watch.seen("read", ("train",)) and not watch.seen("upload", ("train",))
    assert len({e.step for e in watch.uploads("transfer")}) == 4  # the batch moved once a step, outside it


@pytest.mark.parametrize("fault,kind", [("item", "read"), ("bool", "read"), ("mask", "read"), ("upload", "upload")])
def test_a_read_or_an_upload_in_the_step_is_seen_on_every_step(fault, kind):
    watch = train(fault)
    events = watch.seen(kind, ("train",))
    assert {e.step for e in events} == {0, 1, 2, 3}
    assert all(e.where.startswith("test_sim.py:") and e.where.endswith("training_step") for e in events), \
        [e.where for e in events]
