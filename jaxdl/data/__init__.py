"""Data: normalization with training statistics, built-in datasets, mini-batches."""
