"""Ops beyond the primitives the recurrent layers need: PyTorch parity (selection, sorting, einsum,
special functions, pooling). Not part of the core line budget."""
