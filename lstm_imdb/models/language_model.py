"""`LanguageModel`: the classifier's embedding and recurrent layers trained to predict words, so that a
classifier can start from them (`model.init_from=<checkpoint>`; Dai & Le 2015, ULMFiT 2018).

The recurrent layers have exactly the classifier's shape (`nn.LSTM`/`nn.GRU` of the same sizes, same
parameter names), and they read reviews as the classifier does: each review from its first token, state
zero at its start, padding-free (`recurrence.run_padding_free`). A bidirectional model is two language
models at once: the forward direction's state at token t predicts token t+1 and the backward direction's
predicts token t-1 (one layer only: a second layer would mix the directions, and each would see the word
it predicts). AWD-LSTM's regularization (Merity et al. 2018): embedding dropout, weight drop on the
hidden-to-hidden matrices, locked dropout on the outputs. The softmax over the vocabulary is adaptive
(Grave et al. 2017; `nn.AdaptiveLogSoftmaxWithLoss`): frequent words get the full hidden size, rare ones
a projection, so a large vocabulary's softmax costs a fraction of a full one.
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn as nn
from torchmetrics import Metric

from lstm_imdb.data.tokenizer import PAD_ID, UNK_ID
from lstm_imdb.models.encoder import CELLS, locked_dropout
from lstm_imdb.models.optim import build_optimizers, check_optimizers, plain
from lstm_imdb.models.pretrained import LM_KIND, init_from_vectors
from lstm_imdb.models.recurrence import real_tokens_first, recurrent_params, run_padding_free
from lstm_imdb.models.regularization import init_keras_
from lstm_imdb.utils.errors import ConfigError, refuse

DEFAULT_LM_OPTIMIZER = {"_target_": "torch.optim.AdamW", "lr": 3e-3}


def lm_cutoffs(cutoffs, vocab_size) -> list:
    """The adaptive softmax's cluster boundaries: `auto` puts the 10 % most frequent words in the head and
    the next 40 % and the rest in two clusters (a 20,000-word vocabulary: 2,000 and 10,000), so that any
    `data.num_words` works; a list is taken as it is (validate_lm_options checks it)."""
    if cutoffs == "auto":
        return [vocab_size // 10, vocab_size // 2] if isinstance(vocab_size, int) else []
    try:
        return [int(c) for c in cutoffs]
    except (TypeError, ValueError):
        raise ConfigError(f"lm.cutoffs={cutoffs!r}: auto, or a list of increasing integers") from None


def validate_lm_options(hp: dict) -> None:
    problems = []
    for key in ("vocab_size", "embedding_dim", "hidden_size", "num_layers"):
        if not isinstance(hp[key], int) or hp[key] < 1:
            problems.append(f"{key}={hp[key]!r}: must be an integer >= 1")
    if hp["bidirectional"] and hp["num_layers"] != 1:
        problems.append(
            f"model.num_layers={hp['num_layers']}: a bidirectional model pretrains with one layer only "
            "(a second layer would let each direction see the word it predicts)"
        )
    if hp["cell"] not in CELLS:
        problems.append(f"model.cell={hp['cell']!r}: must be one of {', '.join(CELLS)}")
    for key in ("dropout", "recurrent_dropout", "output_dropout"):
        if not isinstance(hp[key], (int, float)) or not 0 <= hp[key] < 1:
            problems.append(f"lm.{key}={hp[key]!r}: must be in [0, 1)")
    cutoffs = list(hp["cutoffs"])
    if cutoffs != sorted(set(cutoffs)) or not all(0 < c < hp["vocab_size"] for c in cutoffs):
        problems.append(
            f"lm.cutoffs={cutoffs}: must increase, each between 0 and the vocabulary size ({hp['vocab_size']})"
        )
    refuse("lm", problems)  # the config group pretrain reads it from


class WeightedMean(Metric):
    """sum(value * weight) / sum(weight) over an epoch, summed across ranks before the division.
    (torchmetrics' MeanMetric checks every update for NaN, dropping them, or ignores the weights when the
    check is off; a NaN loss should show in the figure, and `[UNK]` targets are left out by weight.)"""

    full_state_update = False

    def __init__(self):
        super().__init__()
        self.add_state("total", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("weight", torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, value: torch.Tensor, weight: torch.Tensor | float = 1.0) -> None:
        weight = torch.broadcast_to(
            torch.as_tensor(weight, dtype=value.dtype, device=value.device), value.shape
        )
        self.total += (value * weight).sum()
        self.weight += weight.sum()

    def compute(self) -> torch.Tensor:
        return self.total / self.weight


class LanguageModel(L.LightningModule):
    def __init__(
        self,
        vocab_size: int = 20000,
        embedding_dim: int = 64,
        hidden_size: int = 96,
        num_layers: int = 1,
        bidirectional: bool = True,
        cell: str = "lstm",
        dropout: float = 0.1,
        recurrent_dropout: float = 0.3,
        output_dropout: float = 0.3,
        cutoffs: tuple[int, ...] | str = "auto",
        div_value: float = 4.0,
        vectors: str | None = None,
        optimizer: dict | None = None,
        scheduler: dict | None = None,
    ):
        super().__init__()
        cutoffs = lm_cutoffs(cutoffs, vocab_size)  # saved as the list it resolves to
        optimizer, scheduler = plain(optimizer), plain(scheduler)  # checkpoints load with weights_only
        validate_lm_options(dict(locals()))
        check_optimizers(optimizer or DEFAULT_LM_OPTIMIZER, scheduler, section="lm")
        self.save_hyperparameters()  # the arguments as they are now
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
        self.rnn = CELLS[cell](
            embedding_dim, hidden_size, num_layers=num_layers, batch_first=True, bidirectional=bidirectional
        )
        init_keras_(self.embedding, self.rnn)  # as the classifier's encoder starts
        self.softmax = nn.ModuleList(
            nn.AdaptiveLogSoftmaxWithLoss(hidden_size, vocab_size, cutoffs, div_value=div_value)
            for _ in range(2 if bidirectional else 1)
        )
        self._kernels: dict = {}
        # negative log-likelihood per predicted word, summed over an epoch (and across ranks)
        self.nll = nn.ModuleDict(
            {
                f"{stage}_{name}": WeightedMean()
                for stage in ("train", "val")
                for name in ("all", "known", "forward", "backward")
            }
        )

    def setup(self, stage: str) -> None:
        if stage == "fit" and self.hparams.vectors:  # before a resumed fit's checkpoint is loaded over it
            dm = self.trainer.datamodule
            init_from_vectors(self.embedding, dm.tokenizer.get_vocab(), self.hparams.vectors, dm.data_dir)

    def token_nll(self, input_ids: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per predicted word, for each direction ([forward] or [forward, backward]): (its negative
        log-likelihood [N], the word's id [N])."""
        ids = real_tokens_first(input_ids, PAD_ID)
        mask = ids != PAD_ID
        x = locked_dropout(self.embedding(ids), self.hparams.dropout, self.training)
        params = recurrent_params(self.rnn, self.hparams.recurrent_dropout, self.training)
        states = run_padding_free(self.rnn, x, mask.sum(1), params, self._kernels)
        states = locked_dropout(states, self.hparams.output_dropout, self.training)
        h = self.hparams.hidden_size
        both = mask[:, 1:]  # pairs of neighbouring real tokens
        # forward: the state at t predicts t+1; backward: the state at t predicts t-1
        pairs = [(states[:, :-1, :h], ids[:, 1:])]
        if self.hparams.bidirectional:
            pairs.append((states[:, 1:, h:], ids[:, :-1]))
        # outside autocast: the adaptive softmax mixes dtypes under bf16 (index_copy_ of bf16 into fp32)
        with torch.autocast(self.device.type, enabled=False):
            return [
                (-head(s[both].float(), t[both]).output, t[both])
                for head, (s, t) in zip(self.softmax, pairs, strict=True)
            ]

    def losses(self, input_ids: torch.Tensor) -> list[torch.Tensor]:
        """Mean negative log-likelihood per predicted word: [forward] or [forward, backward]."""
        return [nll.mean() for nll, _ in self.token_nll(input_ids)]

    def _shared(self, batch: dict, stage: str) -> torch.Tensor:
        """The optimized loss: each direction's mean per word in this batch (both predict as many words).

        The logged figures are per word over the whole epoch (and every rank): `<stage>/loss` the mean
        negative log-likelihood per predicted word, [UNK] counted as a word; `loss_known` over the
        predicted words that are in the vocabulary; `loss_forward` / `loss_backward` each direction's;
        `val/ppl` and `val/ppl_known` their exponentials. Metrics accumulate the sums: a batch of short
        reviews weighs as many words as it has, not as much as a batch of long ones."""
        parts = self.token_nll(batch["input_ids"])
        loss = sum(nll.mean() for nll, _ in parts) / len(parts)
        every = torch.cat([nll.detach() for nll, _ in parts])
        known = torch.cat([t != UNK_ID for _, t in parts]).to(every.dtype)  # a weight, not a mask: no sync
        values = {"all": (every, 1.0), "known": (every, known)}
        values.update(zip(("forward", "backward"), ((nll.detach(), 1.0) for nll, _ in parts), strict=False))
        for name, (value, weight) in values.items():
            metric = self.nll[f"{stage}_{name}"]
            metric.update(value, weight)
            # a Metric object: Lightning computes it (synced across ranks) at the epoch's end, then resets it
            key = f"{stage}/loss" if name == "all" else f"{stage}/loss_{name}"
            self.log(key, metric, on_step=False, on_epoch=True, prog_bar=name == "all")
        return loss

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._shared(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._shared(batch, "val")

    def on_validation_epoch_end(self) -> None:
        for key, name in (("ppl", "all"), ("ppl_known", "known")):
            metric = self.nll[f"val_{name}"]
            if metric.update_called:
                self.log(f"val/{key}", torch.exp(metric.compute().clamp(max=50.0)), prog_bar=key == "ppl")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # what `model.init_from` checks and maps by: this is a language model, and its words
        checkpoint["kind"] = LM_KIND
        checkpoint["vocab"] = self.trainer.datamodule.tokenizer.get_vocab()

    def configure_optimizers(self):
        return build_optimizers(
            list(self.parameters()),
            self.hparams.optimizer or DEFAULT_LM_OPTIMIZER,
            self.hparams.scheduler,
            lambda: self.trainer.estimated_stepping_batches,
        )
