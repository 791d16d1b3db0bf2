"""``cupyx`` of the fake CuPy (see ``../cupy``): only what tinyseq_gpu uses."""

import numpy as np

from tinyseq.devices import strict as _strict


def scatter_add(a, slices, value):
    np.add.at(a._a, _strict._unwrap(slices, "scatter_add"), _strict._operand(value, "scatter_add"))
