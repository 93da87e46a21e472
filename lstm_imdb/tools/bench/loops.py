"""What the bench times: the tutorial and best_single encoders, and the loops that train them (a plain
PyTorch loop, the same batches through Lightning), plus the two variants measured only (packed, and one
fused call over the padding)."""

from __future__ import annotations

import resource
import time

import lightning as L
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence
from torch.utils.data import DataLoader

from lstm_imdb.data.tokenizer import PAD_ID, UNK_ID
from lstm_imdb.models import SentimentClassifier
from lstm_imdb.models.encoder import locked_dropout
from lstm_imdb.models.recurrence import recurrent_params
from lstm_imdb.models.regularization import word_dropout

TUTORIAL = dict(
    vocab_size=5000,
    embedding_dim=10,
    hidden_size=128,
    dropout=0.25,
    recurrent_dropout=0.25,
    pooling="last",
    init="keras",
)
# experiment=best_single's encoder (BiLSTM 2 x 96, mean+max pooling, 20k x 64 words, uni+bigram bag)
BEST_SINGLE = dict(
    vocab_size=20000,
    embedding_dim=64,
    hidden_size=96,
    bidirectional=True,
    pooling="mean_max",
    dropout=0.5,
    recurrent_dropout=0.3,
    output_dropout=0.5,
    word_dropout=0.5,
    ngram_order=2,
    ngram_scale=10.0,
)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


class PackedLSTM(nn.Module):
    """The tutorial model with `pack_padded_sequence` (right padding): measured, not used in training."""

    def __init__(self, enc: nn.Module):
        super().__init__()
        self.enc = enc

    def forward(self, input_ids, lengths):
        x = self.enc.embedding(input_ids)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.enc.rnn(packed)
        return self.enc.head(h[-1]).squeeze(-1)


class OverPadding(nn.Module):
    """The encoder as it was before its recurrence became padding-free: one fused call of the whole RNN
    over the batch as padded, so padding steps move the state. Measured only, to show what the
    padding-free recurrence costs."""

    def __init__(self, enc: nn.Module):
        super().__init__()
        self.enc = enc

    def forward(self, input_ids):
        enc = self.enc
        input_ids = word_dropout(input_ids, enc.word_dropout, enc.training, UNK_ID, PAD_ID)
        x = locked_dropout(enc.embedding(input_ids), enc.dropout, enc.training)
        params = recurrent_params(enc.rnn, enc.recurrent_dropout, enc.training)
        states, _ = torch.func.functional_call(enc.rnn, params, (x,))
        logits = enc.head(enc.output_dropout(enc.pool(states, input_ids != PAD_ID))).squeeze(-1)
        return logits if enc.ngrams is None else logits.float() + enc.ngrams(input_ids).float()


def cycle_batches(loader, n: int) -> list[dict]:
    batches, it = [], iter(loader)
    while len(batches) < n:
        try:
            batches.append(next(it))
        except StopIteration:
            it = iter(loader)
    return batches


def plain_loop(
    model: nn.Module,
    batches: list[dict],
    device: torch.device,
    packed: bool = False,
    precision: str = "32-true",
) -> float:
    """Seconds for forward + backward + Adam over `batches` (plain PyTorch)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    model.train().to(device)
    start = time.perf_counter()
    for b in batches:
        ids, labels = b["input_ids"].to(device), b["labels"].to(device).float()
        # bf16 autocast, as Lightning's bf16-mixed does
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16-mixed"):
            logits = model(ids, b["lengths"]) if packed else model(ids)
        loss = loss_fn(logits.float(), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


class _StepClock(L.Callback):
    """Wall time from the start of the first timed batch to the end of the last one."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.end = warmup, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.warmup and self.start is None:
            self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.end = time.perf_counter()


def lightning_loop(batches: list[dict], warmup: int, accelerator: str, precision: str) -> float:
    """Seconds for the same batches through `SentimentClassifier` and `Trainer.fit` (metrics included)."""
    model = SentimentClassifier(**TUTORIAL, scheduler=None)
    clock = _StepClock(warmup)
    trainer = L.Trainer(
        max_steps=len(batches),
        accelerator=accelerator,
        devices=1,
        precision=precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[clock],
    )
    trainer.fit(model, train_dataloaders=DataLoader(batches, batch_size=None))  # the ready-made batches
    return clock.end - clock.start


def chosen_device(args) -> torch.device:
    return torch.device("cuda" if args.accelerator != "cpu" and torch.cuda.is_available() else "cpu")
