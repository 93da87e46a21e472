"""Models: a plain `RNNEncoder` and the `SentimentClassifier` LightningModule around it."""

from lstm_imdb.models.classifier import SentimentClassifier
from lstm_imdb.models.encoder import RNNEncoder

__all__ = ["RNNEncoder", "SentimentClassifier"]
