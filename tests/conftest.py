import numpy as np
import pytest

import tinyseq as ts


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run long training checks")


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
