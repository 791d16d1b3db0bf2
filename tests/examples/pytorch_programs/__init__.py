"""Training programs written against PyTorch, in the style of its public examples; the tests
run each once with ``torch`` and once with ``import tinyseq as torch``."""
