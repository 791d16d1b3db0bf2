"""PyTorch's path torch.nn.utils.rnn: packed sequences (defined in ``nn.recurrent.packed``)."""

from ..recurrent.packed import PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence, pad_sequence

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence"]
