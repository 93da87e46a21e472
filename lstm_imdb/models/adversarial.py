"""Adversarial training on the embeddings (Miyato, Dai & Goodfellow, 2017, "Adversarial Training Methods
for Semi-Supervised Text Classification").

A review's embeddings e are moved by r = eps * ||e|| * g / ||g||, with g the gradient of the loss with
respect to e (the direction in which a small change of the input hurts most, to first order) and the
norms taken over the review's real tokens; the model is trained on the loss at e + r as well as at e.

Why the size is relative to ||e||: Miyato et al. normalize the embeddings so that an absolute eps means
the same thing throughout training (otherwise the model can grow its embeddings until the perturbation
is negligible). Scaling the perturbation by the review's own embedding norm has that effect without
changing the model: eps = 0.02 moves every review by 2 % of its embeddings' length.
"""

from __future__ import annotations

import torch


def adversarial_perturbation(
    grad: torch.Tensor, embedded: torch.Tensor, mask: torch.Tensor, eps: float
) -> torch.Tensor:
    """[B, T, E] perturbation (no gradient through it) of norm eps * ||embedded|| per review, along `grad`,
    zero at padding."""
    m = mask.unsqueeze(-1).to(grad.dtype)
    grad = grad.detach() * m
    size = (embedded.detach().float() * m).flatten(1).norm(dim=1)
    direction = grad / grad.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, 1, 1)
    return (eps * size.view(-1, 1, 1) * direction).to(embedded.dtype)
