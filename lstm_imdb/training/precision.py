"""Which precision this hardware computes fast, for the bench and for `${fast_precision:...}` in configs.

The trainer's default is exact fp32 (`conf/trainer/default.yaml`): bf16-mixed runs the tutorial's epoch
faster where the chip computes bf16 natively, but its recurrence learns more slowly and less repeatably
(docs/performance.md has the measurement), so it is a switch: `trainer.precision=bf16-mixed`, or
`'trainer.precision=${fast_precision:auto}'` (quoted for the shell) for bf16 only where it is native.
"""

from __future__ import annotations

from lstm_imdb.utils.hardware import cpu_isa, native_bf16


def fast_precision(accelerator: str = "auto") -> str:
    """The fastest precision for Lightning's Trainer on `accelerator`: bf16-mixed where it is native."""
    return "bf16-mixed" if native_bf16(accelerator) else "32-true"


class PrecisionError(ValueError):
    """A precision that this machine cannot train in: bad input, found before any work (exit 2)."""


def check_precision(precision: str, device_type: str) -> None:
    """bf16 on a CPU without native bf16 fails inside the first step (oneDNN builds no bf16 LSTM kernel
    there, and says only "could not create a primitive descriptor"): refuse it before any work."""
    if "bf16" in str(precision) and device_type == "cpu" and not native_bf16("cpu"):
        raise PrecisionError(
            f"trainer.precision={precision}: this CPU ({cpu_isa()}) does not compute bf16 natively, and "
            "PyTorch's CPU LSTM (oneDNN) has no bf16 kernel for it. Train in fp32, the default (drop the "
            "override, or trainer.precision=32-true), or write 'trainer.precision=${fast_precision:auto}' "
            "(quoted) to take bf16 only where the chip has it."
        )
