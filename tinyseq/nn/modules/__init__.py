"""``ts.nn.modules``: PyTorch's module paths (``ts.nn.modules.rnn.LSTM``, ``...linear.Linear``),
as thin aliases of the classes in ``ts.nn``, so programs that name them (for example in
``ts.serialization.safe_globals([...])``) run unchanged."""

from . import (  # noqa: F401
    activation,
    batchnorm,
    container,
    conv,
    dropout,
    flatten,
    linear,
    loss,
    module,
    normalization,
    pooling,
    rnn,
    sparse,
    transformer,
)
from .activation import *  # noqa: F401, F403
from .batchnorm import *  # noqa: F401, F403
from .container import *  # noqa: F401, F403
from .conv import *  # noqa: F401, F403
from .dropout import *  # noqa: F401, F403
from .flatten import *  # noqa: F401, F403
from .linear import *  # noqa: F401, F403
from .loss import *  # noqa: F401, F403
from .module import *  # noqa: F401, F403
from .normalization import *  # noqa: F401, F403
from .pooling import *  # noqa: F401, F403
from .rnn import *  # noqa: F401, F403
from .sparse import *  # noqa: F401, F403
from .transformer import *  # noqa: F401, F403
