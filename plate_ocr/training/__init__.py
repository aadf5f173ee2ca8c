"""Training, synthesis, data sets and evaluation (needs the ``train`` extra for LMDB and progress bars)."""
