"""``ts.onnx``: present so that programs importing ``torch.onnx`` at the top run.

tinyseq does not export to ONNX; ``export`` says so.
"""

from __future__ import annotations


def export(model, args=None, f=None, *more, **kwargs):
    """Not supported: raises NotImplementedError."""
    name = type(model).__name__
    raise NotImplementedError(
        f"onnx.export: tinyseq cannot export models to ONNX (asked to export {name}); "
        "save the weights with ts.save(model.state_dict(), path) instead"
    )


def is_in_onnx_export() -> bool:
    return False
