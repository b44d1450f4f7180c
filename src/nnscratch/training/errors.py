"""Errors raised by training."""


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; the model was left at its last finite state."""
