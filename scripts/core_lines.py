"""Count the lines of tinyseq's core and fail past the budget.

The core is the engine and the primitive ops: tinyseq/autograd.py, _tensor.py,
backend.py, dtypes.py, factories.py and every module directly in tinyseq/ops/
(its subpackages, ops/fused/ and ops/extra/, are outside). Lines are counted as
``wc -l`` does, docstrings and comments included.

    python scripts/core_lines.py        # one line per file, then the total; exit 1 past the budget
"""

from __future__ import annotations

import sys
from pathlib import Path

BUDGET = 3000
PACKAGE = Path(__file__).resolve().parents[1] / "tinyseq"
CORE = ("autograd.py", "_tensor.py", "backend.py", "dtypes.py", "factories.py", "ops/*.py")


def core_files() -> list:
    return sorted({path for pattern in CORE for path in PACKAGE.glob(pattern)})


def main() -> int:
    total = 0
    for path in core_files():
        with open(path, "rb") as f:
            n = sum(1 for _ in f)
        total += n
        print(f"{n:6d}  {path.relative_to(PACKAGE.parent)}")
    print(f"{total:6d}  total (budget {BUDGET})")
    if total > BUDGET:
        print(f"core_lines: the core has {total} lines, {total - BUDGET} over the budget of {BUDGET}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
