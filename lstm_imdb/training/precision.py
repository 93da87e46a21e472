"""Which precision this hardware computes fast, for the bench and for `${fast_precision:...}` in configs.

The trainer's default is exact fp32 (`conf/trainer/default.yaml`): bf16-mixed runs the tutorial's epoch
faster where the chip computes bf16 natively, but its recurrence learns more slowly and less repeatably
(docs/performance.md has the measurement), so it is a switch: `trainer.precision=bf16-mixed`, or
`'trainer.precision=${fast_precision:auto}'` (quoted for the shell) for bf16 only where it is native.
"""

from __future__ import annotations

from lstm_imdb.utils.hardware import native_bf16


def fast_precision(accelerator: str = "auto") -> str:
    """The fastest precision for Lightning's Trainer on `accelerator`: bf16-mixed where it is native."""
    return "bf16-mixed" if native_bf16(accelerator) else "32-true"
