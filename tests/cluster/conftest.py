"""A real one-node SLURM cluster and a real PostgreSQL server for the ``cluster`` tests, each started once per
session by its script beside this file (which installs the Debian packages when missing) and stopped at the end."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def service(script: str, state: Path):
    """Start ``script`` into ``state``, yield, stop it whatever the tests did. Needs root: it installs packages
    and starts system daemons."""
    if os.geteuid() != 0:
        pytest.skip(f"{script} starts system daemons: run the cluster tests as root (CI does)")
    started = subprocess.run(["bash", str(HERE / script), "start", str(state)], capture_output=True, text=True,
                             timeout=900)
    try:
        assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-3000:]
        yield
    finally:
        subprocess.run(["bash", str(HERE / script), "stop", str(state)], capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """SLURM_CONF set for this process and the commands it starts (sbatch, scontrol, the sweep's launcher)."""
    state = tmp_path_factory.mktemp("slurm")
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(state / "slurm.conf")
    yield from service("local_slurm.sh", state)
    os.environ.pop("SLURM_CONF")
    if previous is not None:
        os.environ["SLURM_CONF"] = previous


@pytest.fixture(scope="session")
def postgres() -> str:
    """The URL of an empty database on a PostgreSQL server of its own (port 55432, trust auth on localhost). Its
    files live outside pytest's tmp dirs, which the postgres user may not enter."""
    state = Path(tempfile.mkdtemp(prefix="seqexp-postgres-"))
    try:
        for _ in service("local_postgres.sh", state):
            yield (state / "url").read_text().strip()
    finally:
        shutil.rmtree(state, ignore_errors=True)
