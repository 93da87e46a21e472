"""One decision rule everywhere: a review is called positive when its probability is above 0.5.

It is torchmetrics' rule (`preds > threshold`), so the logged metrics, the report, the baseline and
predict all count the same reviews as positive (a probability of exactly 0.5 is negative).
"""

from __future__ import annotations

import numpy as np

THRESHOLD = 0.5
LABELS = ("negative", "positive")


def predicted_labels(probs) -> np.ndarray:
    """0/1 labels of probabilities of the positive class."""
    return (np.asarray(probs) > THRESHOLD).astype(np.int64)
