"""Optimizers (``ts.optim``) and learning-rate schedules (``ts.optim.lr_scheduler``),
with PyTorch's names, defaults, update rules and state-dict layout."""

from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "RMSprop", "LBFGS", "lr_scheduler"]
