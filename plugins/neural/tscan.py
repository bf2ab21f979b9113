"""TS-CAN: the DeepPhys attention network with temporal shift modules in its motion branch.

Liu X., Fromm J., Patel S., McDuff D. "Multi-Task Temporal Shift Attention Networks for On-Device
Contactless Vitals Measurement." NeurIPS 2020. Written from the paper; trains and predicts through
`rppgbench.training`.

TS-CAN keeps DeepPhys's inputs (normalised frame differences for the motion branch, standardised
frames for the appearance branch), its two tanh CNN branches, its appearance-driven soft attention
masks, its target (the first difference of the pulse) and its output integration; all of that is
reused from `deepphys.py`. What it adds is a temporal shift module (TSM; Lin, Gan & Han, ICCV 2019)
before each of the four motion convolutions: within each segment of `frame_depth` consecutive frames,
a third of the channels is taken from the next frame and a third from the previous one, so the 2-D
network models time at no extra parameters or multiplications. The parameter count therefore equals
DeepPhys's (532,899 at 36 x 36). This is the single-task (pulse) network; the paper's multi-task
variant (MTTS-CAN) adds a second head for respiration, which no rppgbench protocol scores.

Training windows (`clip_frames`) and inference windows are whole numbers of segments.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from . import TSCAN as TSCAN_DECLARATION
from .deepphys import DeepPhys, DeepPhysNet


class TSCAN(DeepPhys, declaration=TSCAN_DECLARATION):
    """TS-CAN (Liu et al., NeurIPS 2020): DeepPhys with temporal shifts in the motion branch."""

    # name, description, trains and params: the TSCAN declaration in __init__.py

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.temporal_multiple = int(self.config["frame_depth"])  # windows are whole segments
        self.min_frames = max(2, self.temporal_multiple)

    def build_model(self) -> nn.Module:
        """The DeepPhys network with temporal shifts over segments of `frame_depth` frames."""
        return DeepPhysNet(
            size=int(self.config["size"]),
            dropout=float(self.config["dropout"]),
            frame_depth=int(self.config["frame_depth"]),
        )
