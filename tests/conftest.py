"""Shared fixtures: configs composed with Hydra's compose API, as ``python -m seqexp`` would compose them."""

import os

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from helpers import QUICK, run_seqexp
from seqexp.run.build import compose_config
from seqexp.run.fit import usable_cores

WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if WORKERS > 1:  # pytest -n N: the workers share the cores as a sweep's parallel jobs do (run.fit.threads), since
    # N processes each spinning one OpenMP thread per core stall each other; OMP_NUM_THREADS reaches subprocesses
    SHARE = max(1, usable_cores() // WORKERS)
    os.environ["OMP_NUM_THREADS"] = str(SHARE)
    torch.set_num_threads(SHARE)


@pytest.fixture(autouse=True, scope="session")
def cache_dir(tmp_path_factory):
    """The tokenized cache (data.cache_dir) of the session's runs, subprocesses included: a temporary directory,
    never the checkout's data/."""
    os.environ["SEQEXP_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield os.environ["SEQEXP_CACHE_DIR"]
    del os.environ["SEQEXP_CACHE_DIR"]


@pytest.fixture
def make_cfg(tmp_path):
    """``make_cfg(*overrides)``: the config ``python -m seqexp *overrides`` would run, writing into tmp_path."""

    def make(*overrides: str) -> DictConfig:
        return compose_config([*QUICK, *overrides], tmp_path)

    yield make
    GlobalHydra.instance().clear()


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """``trained(task, *overrides)``: the run dir of a small model trained once per session through the real
    command line."""
    runs = {}

    def run(task: str, *overrides: str):
        key = (task, *overrides)
        if key not in runs:
            path = tmp_path_factory.mktemp(task) / "run"
            proc = run_seqexp(path, f"task={task}", "model=gru", "trainer.max_epochs=1",
                              "+trainer.limit_train_batches=40", *overrides)
            assert proc.returncode == 0, proc.stderr[-3000:]
            runs[key] = path
        return runs[key]

    return run
