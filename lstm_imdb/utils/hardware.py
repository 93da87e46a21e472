"""What the hardware computes natively: recorded with every run (machines of one model name differ in their
vector units, and so do their timings and fp roundings) and read by the bf16 switch."""

from __future__ import annotations

import torch


def native_bf16(accelerator: str = "auto") -> bool:
    """Whether `accelerator` (auto: a GPU when there is one) computes bf16 natively: a CUDA GPU with bf16,
    or a CPU with AVX512-BF16 or AMX (oneDNN's bf16 kernels; elsewhere bf16 is emulated, slower than fp32)."""
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    try:
        native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    except (AttributeError, RuntimeError):  # a build without oneDNN
        native = False
    return bool(native and torch.backends.mkldnn.is_available())


def cpu_isa() -> str:
    """The CPU's vector instructions that PyTorch uses (e.g. AVX2, AVX512), plus bf16 where oneDNN has it
    natively: machines that share a model name can differ here, and so do their timings and fp roundings."""
    isa = torch.backends.cpu.get_cpu_capability()
    return f"{isa}, bf16" if native_bf16("cpu") else isa
