"""`${fast_precision:${trainer.accelerator}}` in configs: the fastest precision that keeps the tutorial's accuracy on the
hardware at hand.

bf16-mixed (weights, optimizer and loss in fp32; matmuls and the LSTM in bf16) where the chip computes
bf16 natively: a CUDA GPU with bf16, or a CPU with AVX512-BF16 or AMX, where oneDNN's bf16 LSTM runs a
training step faster than fp32 (docs/performance.md has `make bench`'s measurement). Elsewhere bf16 is
emulated and slower than fp32, so 32-true. `trainer.precision=32-true` forces exact fp32.
"""

from __future__ import annotations

import torch


def fast_precision(accelerator: str = "auto") -> str:
    """The precision for Lightning's Trainer on `accelerator` (auto picks a GPU when there is one)."""
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "32-true"
    try:
        native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    except (AttributeError, RuntimeError):  # a build without oneDNN
        native = False
    return "bf16-mixed" if native and torch.backends.mkldnn.is_available() else "32-true"
