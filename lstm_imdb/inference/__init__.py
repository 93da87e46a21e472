"""Using a trained model: loading checkpoints (one, a list, a run or a sweep folder), scoring text, and
the input and output formats of `predict`."""
