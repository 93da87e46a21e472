"""`RNNEncoder`: a plain `nn.Module`, token ids [B, T] -> one logit per review [B].

embedding -> (locked) dropout -> LSTM/GRU (weight-dropped) -> pooling over real tokens -> dropout -> linear,
plus, with `ngram_order` >= 1, the logit of a linear bag of hashed n-grams of the same ids (`NgramBag`),
and with `wide_buckets` >= 1 the logit of a linear layer over the full text's hashed n-grams (the wide
part, `models/wide.py`: its features come with the batch, not from the ids), blended with the rest as
`blend` = (wide weight, deep weight, bias) says (fitted on validation, `SentimentClassifier`).
Padding is id 0 and never a real token, so the mask of real tokens comes from the ids themselves. Each
review's real tokens are moved to the start of its row before the recurrence (see `recurrence.py`), so a
review's logit is the same whatever the padding around it: alone, in a batch of long reviews, padded on
either side or to any length.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from lstm_imdb.data.tokenizer import PAD_ID, UNK_ID
from lstm_imdb.models.ngram import NgramBag
from lstm_imdb.models.recurrence import real_tokens_first, recurrent_params, run_padding_free
from lstm_imdb.models.regularization import INITS, init_keras_, word_dropout
from lstm_imdb.models.wide import WideLinear
from lstm_imdb.utils.errors import refuse

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}
POOLINGS = ("last", "mean", "max", "mean_max")


def validate_encoder_options(hp: dict) -> None:
    """Fail fast, naming the key and what is allowed (hp: the encoder's arguments)."""
    problems = []
    for key in ("vocab_size", "embedding_dim", "hidden_size", "num_layers"):
        if not isinstance(hp[key], int) or hp[key] < 1:
            problems.append(f"model.{key}={hp[key]!r}: must be an integer >= 1")
    for key in ("ngram_order", "ngram_buckets", "wide_buckets"):
        if not isinstance(hp[key], int) or hp[key] < 0:
            problems.append(
                f"model.{key}={hp[key]!r}: must be an integer >= 0 (ngram_order 0: no n-gram bag)"
            )
    if hp["ngram_order"] > 1 and hp["ngram_buckets"] < 1:
        problems.append(f"model.ngram_buckets={hp['ngram_buckets']!r}: must be >= 1 when ngram_order > 1")
    for key in ("dropout", "recurrent_dropout", "output_dropout", "word_dropout", "ngram_dropout"):
        if not isinstance(hp[key], (int, float)) or not 0 <= hp[key] < 1:
            problems.append(f"model.{key}={hp[key]!r}: must be in [0, 1)")
    if not isinstance(hp["ngram_scale"], (int, float)) or not hp["ngram_scale"] > 0:
        problems.append(f"model.ngram_scale={hp['ngram_scale']!r}: must be a number > 0")
    if not isinstance(hp["bidirectional"], bool):
        problems.append(f"model.bidirectional={hp['bidirectional']!r}: must be true or false")
    for key, allowed in (("cell", tuple(CELLS)), ("pooling", POOLINGS), ("init", INITS)):
        if hp[key] not in allowed:
            problems.append(f"model.{key}={hp[key]!r}: must be one of {', '.join(allowed)}")
    refuse("model", problems)


def locked_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout with one mask per sequence, shared by all time steps (as Keras's RNN input dropout)."""
    if not training or p == 0.0:
        return x
    mask = F.dropout(x.new_ones(x.shape[0], 1, x.shape[2]), p=p, training=True)
    return x * mask


class RNNEncoder(nn.Module):
    def __init__(
        self,
        vocab_size: int = 5000,
        embedding_dim: int = 10,
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = False,
        cell: str = "lstm",
        pooling: str = "last",
        dropout: float = 0.25,
        recurrent_dropout: float = 0.25,
        output_dropout: float = 0.0,
        word_dropout: float = 0.0,
        init: str = "keras",
        ngram_order: int = 0,
        ngram_buckets: int = 2**21,
        ngram_dropout: float = 0.0,
        ngram_scale: float = 1.0,
        wide_buckets: int = 0,
    ):
        super().__init__()
        validate_encoder_options(dict(locals()))  # the arguments above, by name
        self.pooling = pooling
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.word_dropout = word_dropout
        self.bidirectional = bidirectional
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
        self.rnn = CELLS[cell](
            embedding_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        features = hidden_size * (2 if bidirectional else 1) * (2 if pooling == "mean_max" else 1)
        self.output_dropout = nn.Dropout(output_dropout)
        self.head = nn.Linear(features, 1)
        if init == "keras":
            init_keras_(self.embedding, self.rnn, self.head)
        self.ngrams = (
            NgramBag(vocab_size, ngram_order, ngram_buckets, ngram_dropout, ngram_scale, word_dropout)
            if ngram_order
            else None
        )
        self.wide = WideLinear(wide_buckets) if wide_buckets else None
        self.reads_wide = self.wide is not None  # its batches must carry the full text's n-grams
        # (wide weight, deep weight, bias) of the blend: set on validation, not by the optimizer
        self.blend = (
            nn.Parameter(torch.tensor([1.0, 1.0, 0.0]), requires_grad=False) if wide_buckets else None
        )
        self._kernels: dict = {}  # single-direction kernels of a bidirectional RNN (no parameters of their own)

    def pool(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[B, T, D] states -> [B, D'] over the real tokens only (mask [B, T], True = real)."""
        if self.pooling == "last":
            t = states.shape[1]
            last = (t - 1) - mask.flip(1).int().argmax(1)  # last real position
            rows = torch.arange(states.shape[0], device=states.device)
            if not self.bidirectional:
                return states[rows, last]
            first = mask.int().argmax(1)  # the backward direction ends at the first real token
            half = states.shape[2] // 2
            return torch.cat([states[rows, last, :half], states[rows, first, half:]], dim=1)
        m = mask.unsqueeze(-1)
        mean = (states * m).sum(1) / m.sum(1).clamp(min=1)
        if self.pooling == "mean":
            return mean
        mx = states.masked_fill(~m, torch.finfo(states.dtype).min).amax(1)
        return mx if self.pooling == "max" else torch.cat([mean, mx], dim=1)

    def embed(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(ids with real tokens first and word dropout applied [B, T], real-token mask [B, T], their
        embeddings [B, T, E]): what `recurrent_logit` and `bag_logit` read (adversarial training perturbs
        the embeddings in between)."""
        input_ids = real_tokens_first(input_ids, PAD_ID)  # padding after the text cannot reach its states
        input_ids = word_dropout(input_ids, self.word_dropout, self.training, UNK_ID, PAD_ID)
        return input_ids, input_ids != PAD_ID, self.embedding(input_ids)

    def recurrent_logit(self, embedded: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[B] logits of the recurrent path over embeddings [B, T, E] (real tokens first)."""
        x = locked_dropout(embedded, self.dropout, self.training)
        params = recurrent_params(self.rnn, self.recurrent_dropout, self.training)
        states = run_padding_free(self.rnn, x, mask.sum(1), params, self._kernels)
        pooled = self.output_dropout(self.pool(states, mask))
        return self.head(pooled).squeeze(-1)

    def bag_logit(self, input_ids: torch.Tensor) -> torch.Tensor | None:
        """[B] fp32 logits of the n-gram bag (None without one)."""
        return None if self.ngrams is None else self.ngrams(input_ids).float()

    def wide_raw(
        self,
        wide_ids: torch.Tensor | None = None,
        wide_offsets: torch.Tensor | None = None,
        wide_raw: torch.Tensor | None = None,
    ) -> torch.Tensor | None:
        """[B] fp32 logits of the wide layer over the batch's features (or `wide_raw` itself, given logits of
        the wide part: training's out-of-fold ones); None without a wide part."""
        if self.wide is None:
            return None
        if wide_raw is None:
            if wide_ids is None or wide_offsets is None:
                raise ValueError(
                    "this model has a wide part: its batches need wide_ids and wide_offsets "
                    "(a datamodule with data.wide, as the checkpoint's data hyperparameters say)"
                )
            wide_raw = self.wide(wide_ids, wide_offsets)
        return wide_raw.float()

    def combine(self, deep: torch.Tensor, wide: torch.Tensor | None) -> torch.Tensor:
        """The logit of the deep part (recurrence + bag) blended with the wide part's (if any), in fp32."""
        if wide is None:
            return deep
        w = self.blend.float()
        return w[1] * deep.float() + w[0] * wide + w[2]

    def deep_logit(self, input_ids: torch.Tensor) -> torch.Tensor:
        """[B] logits of the recurrence plus the bag. With a bag they are fp32: its logit is added in fp32
        (under bf16-mixed, the recurrent logit is bf16, and casting the bag's to it would round logits of a
        few units by up to a few hundredths and make probabilities tie)."""
        input_ids, mask, embedded = self.embed(input_ids)
        logits = self.recurrent_logit(embedded, mask)
        bag = self.bag_logit(input_ids)
        return logits if bag is None else logits.float() + bag

    def forward(self, input_ids: torch.Tensor, **wide) -> torch.Tensor:
        """[B] logits (`wide`: `wide_raw`'s arguments, for a model with a wide part)."""
        return self.combine(self.deep_logit(input_ids), self.wide_raw(**wide))


class EnsembleEncoder(nn.Module):
    """Several trained encoders as one (e.g. the best checkpoints of a seed sweep): the logit of their mean
    probability, or with `weights` (one per member) and `bias` the weighted sum of their logits (a blend
    fitted on validation, `inference/ensemble_blend.py`).

    Members that read the same inputs (vocabulary, length, n-gram settings) take the batch's own; with
    `member_views` (each member's view number) the members read different inputs, and the batch carries
    one per view (`views`: a list of {input_ids, wide_ids, wide_offsets}; `data/views.py`)."""

    def __init__(
        self,
        members: list[nn.Module],
        weights: list[float] | None = None,
        bias: float = 0.0,
        member_views: list[int] | None = None,
    ):
        super().__init__()
        self.members = nn.ModuleList(members)
        if weights is not None and len(weights) != len(members):
            raise ValueError(f"{len(weights)} ensemble weights for {len(members)} members")
        if member_views is not None and len(member_views) != len(members):
            raise ValueError(f"{len(member_views)} views for {len(members)} members")
        self.weights = None if weights is None else torch.tensor(weights, dtype=torch.float32)
        self.bias = float(bias)
        self.member_views = member_views
        # no wide layer of its own (each member blends its own); the batches carry the n-grams for them
        self.wide = None
        self.reads_wide = any(getattr(m, "reads_wide", False) for m in members)

    def view_logits(self, view: int, input_ids: torch.Tensor, **wide) -> torch.Tensor:
        """[M_v, B] fp32 logits of the members that read view `view` (in member order)."""
        pairs = zip(self.members, self.member_views, strict=True)
        return torch.stack([m(input_ids, **wide).float() for m, v in pairs if v == view])

    def member_logits(self, input_ids: torch.Tensor, views: list[dict] | None = None, **wide) -> torch.Tensor:
        """[M, B] fp32 logits, one row per member (`views`: the batch's inputs of each view, when the
        members read different ones)."""
        if self.member_views is None:
            return torch.stack([m(input_ids, **wide).float() for m in self.members])
        if views is None:
            raise ValueError("these ensemble members read different inputs: the batch must carry `views`")
        return torch.stack(
            [m(**views[v]).float() for m, v in zip(self.members, self.member_views, strict=True)]
        )

    def combine(self, logits: torch.Tensor) -> torch.Tensor:
        """[B] ensemble logit of the members' [M, B] logits."""
        if self.weights is not None:
            return self.weights.to(logits.device) @ logits + self.bias
        probs = torch.sigmoid(logits).mean(0)
        return torch.logit(probs.clamp(1e-6, 1 - 1e-6))

    def forward(self, input_ids: torch.Tensor, **inputs) -> torch.Tensor:
        return self.combine(self.member_logits(input_ids, **inputs))
