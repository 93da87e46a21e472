"""LSTM-family sentiment classifiers on IMDB with PyTorch Lightning and Hydra."""

__version__ = "0.1.0"

from lstm_imdb import paths as _paths  # noqa: E402,F401  (registers the config resolvers)
