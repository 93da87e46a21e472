"""Arithmetic of the recurrent models, counted by hand: PyTorch's FlopCounterMode does not count the
fused LSTM/GRU kernels. A multiply-add is 2 FLOPs; a training step is counted as 3 forward passes
(the backward pass costs about twice the forward's matrix products). Embedding lookups, the gates'
elementwise work, the head and the n-gram bag's sums are left out: together they are under 1 % of the
recurrence for the models here."""

from __future__ import annotations

GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def recurrent_flops_per_step(
    cell: str, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False
) -> int:
    """Forward FLOPs of the recurrence for one time step of one review (input and hidden products)."""
    directions = 2 if bidirectional else 1
    total, size = 0, input_size
    for _ in range(num_layers):
        total += directions * 2 * GATES[cell] * hidden_size * (size + hidden_size)
        size = hidden_size * directions
    return total


def rnn_flops_per_step(rnn) -> int:
    """`recurrent_flops_per_step` of an `nn.LSTM` / `nn.GRU` / `nn.RNN`."""
    cell = {"LSTM": "lstm", "GRU": "gru"}.get(rnn.mode, "rnn")
    return recurrent_flops_per_step(cell, rnn.input_size, rnn.hidden_size, rnn.num_layers, rnn.bidirectional)


def epoch_flops(flops_per_step: int, train_steps: int, eval_steps: int = 0) -> float:
    """FLOPs of one epoch: `train_steps` review-steps trained (3 passes) and `eval_steps` evaluated."""
    return float(flops_per_step) * (3 * train_steps + eval_steps)
