"""Training: the set-up shared by train and pretrain, the fit and test phases, callbacks, hparams for
TensorBoard, precision, profiling and the sweep's ensemble test."""
