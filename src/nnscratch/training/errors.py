"""Errors raised by training."""


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; the model was left in the finite state it had at most
    16 batches before (the message names the batch)."""
