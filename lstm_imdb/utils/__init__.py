"""Small leaf modules every layer may use: paths, the decision rule, reading a checkpoint file, the
allocator setting. They import nothing else from the project."""
