"""LSTM-family sentiment classifiers on IMDB with PyTorch Lightning and Hydra.

Importing the package does nothing else: the entry points (and notebooks) call `lstm_imdb.cli.startup()`.
"""

__version__ = "0.1.0"
