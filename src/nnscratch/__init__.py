"""nnscratch: neural networks from first principles in NumPy."""

__version__ = "0.1.0"

from .core import *  # noqa: E402, F403
from .core import __all__ as _core_all  # noqa: E402
from .io import ModelFileError  # noqa: E402
from .model import Model  # noqa: E402
from .training import *  # noqa: E402, F403
from .training import __all__ as _training_all  # noqa: E402

__all__ = [*_core_all, *_training_all, "LivePlot", "Model", "ModelFileError", "__version__"]

import typing as _typing  # noqa: E402

if _typing.TYPE_CHECKING:
    from .plots.live import LivePlot
else:
    # nn.LivePlot is loaded on first use, so `import nnscratch` does not load the plots package;
    # defined only at run time so that type checkers still flag a misspelt nn.<name>
    def __getattr__(name: str) -> object:
        if name == "LivePlot":
            from .plots.live import LivePlot

            return LivePlot
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __dir__() -> list[str]:  # so that tab completion offers nn.LivePlot too
        return sorted({*globals(), "LivePlot"})
