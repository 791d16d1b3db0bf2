"""Neural-network building blocks (``ts.nn``)."""

from . import functional  # noqa: F401
from .module import Module, Parameter

__all__ = ["Module", "Parameter", "functional"]
