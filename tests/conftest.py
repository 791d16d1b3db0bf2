import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

import tinyseq as ts

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

# Test files import helpers by module name (`import device_cases`, `from graph_walk import
# graph_nodes`) from whichever folder of tests/ holds them, so every folder is on the path
# (packages such as pytorch_programs are imported by their own name instead). Not
# support/fakegpu: its stand-in `cupy` belongs only to the subprocesses that ask for it.
for folder in [TESTS, *sorted(TESTS.iterdir())]:
    helpers = folder.is_dir() and folder.name[0] not in "._" and not (folder / "__init__.py").exists()
    if helpers and str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run long training checks")


def pytest_configure(config):
    # the differential fuzz tests (test_fuzz_torch.py) run this many times more examples
    if config.getoption("--runslow"):
        os.environ.setdefault("TINYSEQ_FUZZ_SCALE", "25")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="long training check; run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _checkout_stays_clean():
    """Tests write their drawings and pages under tmp_path, never into the repository root."""
    patterns = ("*.gv", "*.dot", "*.svg", "*.png", "*.pdf", "*.html")
    before = {p for pattern in patterns for p in ROOT.glob(pattern)}
    yield
    left = sorted(p.name for pattern in patterns for p in ROOT.glob(pattern) if p not in before)
    assert not left, f"tests wrote {left} into {ROOT}; write to tmp_path instead"


@pytest.fixture(autouse=True)
def _seed():
    ts.manual_seed(0)
    np.random.seed(0)
    yield


# CI runs a fixed set of generated examples, so a run's verdict never depends on
# the draw; local runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
