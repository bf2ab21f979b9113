"""Heart rate from any video file: `predict(path, method="pos")` and the `rppgbench predict` command.

No dataset loader is needed: the video is streamed into face crops, a registered method turns them
into an rPPG signal, and the shared HR estimator gives the average HR and a sliding-window series.
"""

import sys
import types

from rppgbench.predict.api import MethodChoice, PredictionResult, choose_method, predict
from rppgbench.predict.faces import FaceCrops, read_face_crops
from rppgbench.predict.reference import ReferenceSpec, read_reference_csv

__all__ = [
    "FaceCrops",
    "MethodChoice",
    "PredictionResult",
    "ReferenceSpec",
    "choose_method",
    "predict",
    "read_face_crops",
    "read_reference_csv",
]


class _CallableModule(types.ModuleType):
    """Lets `rppgbench.predict(path, ...)` work whether `rppgbench.predict` was imported as a module."""

    def __call__(self, *args, **kwargs) -> PredictionResult:
        return predict(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
