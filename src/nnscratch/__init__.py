"""nnscratch: neural networks from first principles in NumPy."""

__version__ = "0.1.0"

from .core import *  # noqa: E402, F403
from .core import __all__ as _core_all  # noqa: E402
from .io import ModelFileError  # noqa: E402
from .model import Model  # noqa: E402
from .training import *  # noqa: E402, F403
from .training import __all__ as _training_all  # noqa: E402

__all__ = [*_core_all, *_training_all, "Model", "ModelFileError", "__version__"]
