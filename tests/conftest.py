import os

import numpy as np
import pytest
from hypothesis import settings

import tinyseq as ts


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
