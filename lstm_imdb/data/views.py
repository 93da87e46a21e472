"""Evaluation batches for an ensemble whose members read the reviews differently (another vocabulary, length,
truncation side or n-gram settings): one `IMDBDataModule` per way of reading ("view"), and batches that
carry every view of the same reviews, in the same order.

A batch is a `PadCollate` batch of the first view (`input_ids`, `lengths`, `labels`, `index`) with `views`
added: each view's {input_ids, wide_ids, wide_offsets} for the same reviews (`EnsembleEncoder` gives each
member its own). The views must hold out the same validation reviews: the same source, `val_fraction`,
`val_seed` and `val_fold`, or the ensemble would have no validation score of its own (`check_same_split`).
"""

from __future__ import annotations

import lightning as L
import numpy as np
from torch.utils.data import DataLoader, Dataset

from lstm_imdb.data.batching import BucketBatchSampler, TokenDataset
from lstm_imdb.data.datamodule import IMDBDataModule

# data settings that decide which reviews each split holds: every view must agree on them
SPLIT_SETTINGS = ("source", "acl_dir", "val_fraction", "val_seed", "val_fold")
SPLIT_DEFAULTS = {"val_fold": 0}  # settings that older checkpoints do not hold
VIEW_INPUTS = ("input_ids", "wide_ids", "wide_offsets")


class ViewsError(ValueError):
    """Ensemble members that cannot be evaluated together: what differs and what to do instead."""


def check_same_split(settings: list[dict]) -> None:
    """Members' data settings that hold out the same validation reviews, or a ViewsError naming what
    differs. An ensemble of members validated on different reviews has no validation score: each member
    trained on reviews the others hold out (a checkpoint from before `val_fold` existed used fold 0)."""
    first = settings[0]
    for other in settings[1:]:
        differ = [
            k
            for k in SPLIT_SETTINGS
            if other.get(k, SPLIT_DEFAULTS.get(k)) != first.get(k, SPLIT_DEFAULTS.get(k))
        ]
        if differ:
            raise ViewsError(
                "these ensemble members were validated on different reviews (data settings "
                + ", ".join(f"{k}: {first.get(k)!r} vs {other.get(k)!r}" for k in differ)
                + "): an ensemble needs members trained with the same data.source, data.val_fraction, "
                "data.val_seed and data.val_fold"
            )


class ViewsDataset(Dataset):
    """Item i: review i of the split as each view encodes it."""

    def __init__(self, datasets: list[TokenDataset]):
        self.datasets = datasets

    def __len__(self) -> int:
        return len(self.datasets[0])

    def __getitem__(self, i: int) -> tuple:
        return tuple(d[i] for d in self.datasets)


class ViewsCollate:
    """Each view's items through that view's own `PadCollate`."""

    def __init__(self, collates: list):
        self.collates = collates

    def __call__(self, items: list[tuple]) -> dict:
        per_view = [collate([item[v] for item in items]) for v, collate in enumerate(self.collates)]
        views = [{k: b[k] for k in VIEW_INPUTS if k in b} for b in per_view]
        return {**per_view[0], "views": views}


class ViewsDataModule(L.LightningDataModule):
    """Validation and test batches (never training ones) of several views of the same splits."""

    def __init__(self, views: list[IMDBDataModule]):
        super().__init__()
        check_same_split([view.hparams for view in views])
        self.views = views

    @property
    def hparams(self):  # the first view's: the report and logs read the split settings from it
        return self.views[0].hparams

    def prepare_data(self) -> None:
        for view in self.views:
            view.prepare_data()

    def setup(self, stage: str | None = None) -> None:
        for view in self.views:
            view.setup(stage)
        first = self.views[0].splits
        for view in self.views[1:]:
            for name, split in first.items():
                if not np.array_equal(view.splits[name].labels, split.labels):
                    raise RuntimeError(f"the views' {name} splits hold different reviews")

    @property
    def data_fingerprint(self) -> dict:
        return self.views[0].data_fingerprint

    @property
    def splits(self):
        return self.views[0].splits

    @property
    def seen_in_train(self) -> dict[str, np.ndarray]:
        return self.views[0].seen_in_train

    @property
    def test_split_names(self) -> list[str]:
        return self.views[0].test_split_names

    def _loader(self, name: str) -> DataLoader:
        datasets = [TokenDataset(v.splits[name], v.wide.get(name)) for v in self.views]
        first = self.views[0]
        # longest first by the longest view of each review, for little padding in every view; under DDP
        # each review on one rank
        lengths = np.max(
            [np.minimum(v.splits[name].lengths, v.hparams.sequence_length) for v in self.views], axis=0
        )
        sampler = BucketBatchSampler(lengths, first.hparams.eval_batch_size, shuffle=False)
        return DataLoader(
            ViewsDataset(datasets),
            batch_sampler=sampler,
            collate_fn=ViewsCollate([v.collate for v in self.views]),
            num_workers=first.hparams.num_workers,
        )

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> list[DataLoader]:
        return [self._loader(n) for n in self.test_split_names]
