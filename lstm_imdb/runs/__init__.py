"""The run folder: what a run leaves behind (names, reader, writer), its report, its provenance and the
summary of many runs. Results, summarize, evaluate, predict and the notebooks read runs through here."""

from lstm_imdb.runs.folder import RunFolder, find_runs

__all__ = ["RunFolder", "find_runs"]
