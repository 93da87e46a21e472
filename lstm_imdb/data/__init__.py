"""The data path: sources -> cached DatasetDict -> tokenizer -> token ids -> batches."""

from lstm_imdb.data.datamodule import IMDBDataModule
from lstm_imdb.data.imdb import load_imdb
from lstm_imdb.data.sources import DataSourceError

__all__ = ["IMDBDataModule", "load_imdb", "DataSourceError"]
