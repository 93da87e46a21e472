"""LSTM-family sentiment classifiers on IMDB with PyTorch Lightning and Hydra."""

__version__ = "0.1.0"

# first, before torch allocates anything: large freed blocks stay in the process (see allocator.py)
from lstm_imdb.allocator import keep_large_blocks as _keep_large_blocks  # noqa: E402

_keep_large_blocks()

from lstm_imdb import paths as _paths  # noqa: E402,F401  (registers the config resolvers)
