"""Running an `nn.LSTM` / `nn.GRU` so that a review's states do not depend on the padding around it.

PyTorch's fused recurrent kernels have no per-step mask: every padding step moves the state (a padding
embedding is zero, but the biases are not). So a review's score would depend on how much padding its
batch needed, and on which side. Here each review's real tokens are moved to the start of its row
(padding after them): a forward direction's state at a real token has then seen real tokens only. A
backward direction runs over each review's real tokens in reverse (again followed by its padding) and its
outputs are turned back into token order. Both directions stay on the fused kernels; the cost is a few
gathers and, for bidirectional models, one call per layer and direction instead of one per model
(`make bench` shows it).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call


def real_tokens_first(input_ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """[B, T] ids with each row's non-padding ids moved to its start, in order, padding after them."""
    # keys unique per row (padding after real tokens, each group in position order), so a plain sort is
    # stable: ONNX has no stable sort, and this graph exports (`lstm_imdb.export`)
    steps = input_ids.shape[1]
    key = (input_ids == pad_id).long() * steps + torch.arange(steps, device=input_ids.device)
    return input_ids.gather(1, torch.argsort(key, dim=1))


def reversal_index(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """[B, T] index that reverses the first `lengths[b]` positions of row b and keeps the rest (its own
    inverse)."""
    t = torch.arange(steps, device=lengths.device).unsqueeze(0)
    lengths = lengths.unsqueeze(1)
    return torch.where(t < lengths, lengths - 1 - t, t)


def _gather_steps(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def recurrent_params(rnn: nn.RNNBase, recurrent_dropout: float, training: bool) -> dict[str, torch.Tensor]:
    """The RNN's parameters by name, its hidden-to-hidden matrices DropConnect-ed with p=`recurrent_dropout`
    while training (AWD-LSTM's weight drop, Merity et al. 2018: one mask per forward pass, shared by every
    time step and review).

    How it differs from Keras's `recurrent_dropout`: Keras drops units of the hidden state h_{t-1} (one mask
    per sequence, reused at each step); this drops individual connections of W_hh (one mask per batch).
    Both regularize the recurrence with a mask constant over time; neither acts at evaluation.
    """
    params = dict(rnn.named_parameters())
    if training and recurrent_dropout > 0:
        for name in params:
            if name.startswith("weight_hh"):
                params[name] = F.dropout(params[name], p=recurrent_dropout, training=True)
    return params


def _direction(rnn: nn.RNNBase, kernels: dict, params: dict, layer: int, suffix: str, x: torch.Tensor):
    """One layer, one direction of `rnn`, run forward over x with that layer's and direction's parameters
    through a single-layer, single-direction kernel of the same cell type (cached in `kernels`)."""
    size = x.shape[-1]
    if size not in kernels:
        # Its own parameters are never used (functional_call swaps all of them in), so they are left
        # uninitialized: built on the meta device, no draw from the global RNG, which the dropout masks
        # come from (a kernel built at the first forward would otherwise shift the masks of every later
        # step, and a resumed run, which builds it at another step, would not repeat the uninterrupted one).
        meta = type(rnn)(size, rnn.hidden_size, num_layers=1, batch_first=True, bias=rnn.bias, device="meta")
        kernels[size] = meta.to_empty(device=x.device)
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if rnn.bias else [])
    one = {f"{n}_l0": params[f"{n}_l{layer}{suffix}"] for n in names}
    out, _ = functional_call(kernels[size], one, (x,))
    return out


def run_padding_free(
    rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor, params: dict, kernels: dict
) -> torch.Tensor:
    """Outputs [B, T, H * directions] of a batch_first `rnn` over x [B, T, E] whose rows hold their
    `lengths` real steps first: each row's first `lengths` outputs are exactly what the review alone gives.

    params: the RNN's (possibly weight-dropped) parameters by name; kernels: a dict the caller keeps, for
    the single-direction kernels of a bidirectional RNN."""
    if not rnn.bidirectional:
        # padding after the real steps cannot reach them: one fused call for all layers
        out, _ = functional_call(rnn, params, (x,))
        return out
    index = reversal_index(lengths, x.shape[1])
    inputs = x
    for layer in range(rnn.num_layers):
        forward = _direction(rnn, kernels, params, layer, "", inputs)
        backward = _direction(rnn, kernels, params, layer, "_reverse", _gather_steps(inputs, index))
        inputs = torch.cat([forward, _gather_steps(backward, index)], dim=-1)
        if layer < rnn.num_layers - 1 and rnn.dropout > 0:
            inputs = F.dropout(inputs, p=rnn.dropout, training=rnn.training)
    return inputs
