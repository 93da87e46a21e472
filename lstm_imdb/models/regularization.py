"""Regularization and initialization for recurrent encoders."""

from __future__ import annotations

import torch
import torch.nn as nn

INITS = ("keras", "pytorch")


def word_dropout(input_ids: torch.Tensor, p: float, training: bool, unk_id: int, pad_id: int) -> torch.Tensor:
    """Replace each real token by the unknown id with probability p while training (Iyyer et al., 2015;
    Dai & Le, 2015). It keeps a model from leaning on single rare words (IMDB's film and actor names,
    which recur within the train split but not in test, whose films are disjoint from train's)."""
    if not training or p == 0.0:
        return input_ids
    drop = (torch.rand(input_ids.shape, device=input_ids.device) < p) & (input_ids != pad_id)
    return input_ids.masked_fill(drop, unk_id)


@torch.no_grad()
def init_keras_(embedding: nn.Embedding, rnn: nn.RNNBase, head: nn.Linear | None = None) -> None:
    """Keras's defaults: embeddings U(-0.05, 0.05); input kernels Glorot-uniform and recurrent kernels
    orthogonal (each over the whole [gates * hidden, in] matrix, as Keras does); biases zero, except the
    LSTM forget gate at 1 (Keras's unit_forget_bias; PyTorch has two biases, so only b_ih gets the 1);
    the head Glorot-uniform with zero bias. The tutorial model learns much less from PyTorch's default
    init (docs/design.md)."""
    nn.init.uniform_(embedding.weight, -0.05, 0.05)
    if embedding.padding_idx is not None:
        embedding.weight[embedding.padding_idx].zero_()
    for name, param in rnn.named_parameters():
        if name.startswith("weight_ih"):
            nn.init.xavier_uniform_(param)
        elif name.startswith("weight_hh"):
            nn.init.orthogonal_(param)
        elif name.startswith("bias"):
            param.zero_()
            if isinstance(rnn, nn.LSTM) and name.startswith("bias_ih"):
                h = rnn.hidden_size
                param[h : 2 * h] = 1.0  # PyTorch's gate order is input, forget, cell, output
    if head is not None:
        nn.init.xavier_uniform_(head.weight)
        head.bias.zero_()
