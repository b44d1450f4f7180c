"""Errors raised by training."""


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite, or grew over 1000 times the first batch's loss (and
    above 100); the model was left in the finite state it had at most 16 batches before (the
    message names the batch)."""
