"""Training: optimizers, schedules, regularization, callbacks, metrics and progress."""

from .callbacks import (
    Callback,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
)
from .errors import TrainingDivergedError
from .history import History
from .metrics import (
    accuracy,
    confusion_matrix,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_f1,
    r2_score,
    top_k_accuracy,
)
from .optimizers import (
    OPTIMIZERS,
    SGD,
    AdaGrad,
    Adam,
    AdamW,
    Momentum,
    Nesterov,
    Optimizer,
    RMSProp,
    get_optimizer,
)
from .regularizers import L1, L2, apply_max_norm
from .schedules import Constant as ConstantSchedule
from .schedules import (
    CosineAnnealing,
    ExponentialDecay,
    LinearWarmup,
    Schedule,
    StepDecay,
    get_schedule,
)

__all__ = [
    "Callback",
    "EarlyStopping",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "TrainingDivergedError",
    "History",
    "accuracy",
    "confusion_matrix",
    "mean_absolute_error",
    "mean_squared_error",
    "precision_recall_f1",
    "r2_score",
    "top_k_accuracy",
    "OPTIMIZERS",
    "SGD",
    "AdaGrad",
    "Adam",
    "AdamW",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSProp",
    "get_optimizer",
    "L1",
    "L2",
    "apply_max_norm",
    "CosineAnnealing",
    "ExponentialDecay",
    "LinearWarmup",
    "Schedule",
    "StepDecay",
    "get_schedule",
    "ConstantSchedule",
]
