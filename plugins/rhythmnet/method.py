"""The `rhythmnet` method: HR regressed from spatial-temporal maps by a ResNet-18 and a GRU.

Training goes through the shared harness (`NeuralMethod`): each training sample is `clip_frames =
window_frames + (seq_len - 1) x step_frames` frames; the input transform turns it into `seq_len`
consecutive STMap windows (`rppgbench.training.stmap`, on the device); the model gives each window's
HR; the loss is the L1 error against each window's reference HR (the shared estimator on the
reference waveform of the window) plus `smooth_weight` x the smoothness term (mean absolute
deviation of the sequence's HRs from their mean). At test time the method estimates HR itself
(`predict_hr`): the evaluation window is cut into windows every `step_frames`, the GRU runs over all
of them, and the window's HR is the mean of their HRs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from rppgbench.data import Clip
from rppgbench.signal.hr import HRConfig, estimate_hr
from rppgbench.training import Batch, NeuralMethod
from rppgbench.training.augment import HeartRateScale, SampleAugmentation
from rppgbench.training.stmap import (
    rgb_to_yuv,
    roi_means,
    sliding_windows,
    spatial_temporal_map,
    window_starts,
)

from . import RHYTHMNET, color_spaces
from .network import RhythmNetModel

_CHUNK = 256  # frames per ROI-averaging pass at inference (bounds memory on long videos)


def smoothness(pred: torch.Tensor) -> torch.Tensor:
    """Mean absolute deviation of each sequence's HRs (B, S) from the sequence's mean HR."""
    return (pred - pred.mean(dim=1, keepdim=True)).abs().mean()


def rhythm_loss(pred: torch.Tensor, labels: torch.Tensor, smooth_weight: float) -> torch.Tensor:
    """RhythmNet's loss: L1 to the windows' reference HRs + smooth_weight x smoothness (Sec. III-C)."""
    loss = (pred - labels).abs().mean()
    if pred.shape[1] > 1 and smooth_weight:
        loss = loss + smooth_weight * smoothness(pred)
    return loss


class RhythmNet(NeuralMethod, declaration=RHYTHMNET):
    """RhythmNet (Niu et al., T-IP 2020): STMaps of a grid of face ROIs -> ResNet-18 -> GRU -> HR."""

    with_hr = True  # the HR-based resampling needs each sample's HR

    def build_model(self) -> nn.Module:
        c = self.config
        return RhythmNetModel(
            in_channels=3 * len(color_spaces(c["colors"])), width=int(c["width"]), gru=bool(c["gru"]),
            hr_center=float(c["hr_center"]), hr_scale=float(c["hr_scale"]),
        )  # fmt: skip

    def _map_options(self) -> dict[str, Any]:
        c = self.config
        return {"rows": int(c["rows"]), "cols": int(c["cols"]), "margin": float(c["margin"])}

    def input_transform(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, H, W, 3) -> (B, S, C, R, window) min-max normalised STMap windows."""
        stmap = spatial_temporal_map(
            frames, colors=color_spaces(self.config["colors"]), normalise=False, **self._map_options()
        )
        return sliding_windows(stmap, int(self.config["window_frames"]), int(self.config["step_frames"]))

    def window_labels(self, batch: Batch, n_windows: int) -> torch.Tensor:
        """Reference HR (bpm) of each of the `n_windows` STMap windows of each sample (B, S), by the
        shared estimator on the reference waveform."""
        target = batch.target.detach().float().cpu().numpy()
        fps = batch.fps.detach().float().cpu().numpy()
        window, step = int(self.config["window_frames"]), int(self.config["step_frames"])
        starts = window_starts(target.shape[1], window, step)[:n_windows]
        width = min(window, target.shape[1])
        config = HRConfig()
        labels = [
            [estimate_hr(target[b, s : s + width].astype(np.float64), float(fps[b]), config) for s in starts]
            for b in range(len(target))
        ]
        return torch.tensor(labels, dtype=torch.float32, device=batch.target.device)

    def compute_loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        labels = self.window_labels(batch, output.shape[1])
        return rhythm_loss(output.float(), labels, float(self.config["smooth_weight"]))

    def sample_augmentations(self) -> Sequence[SampleAugmentation]:
        return (HeartRateScale(),) if self.config["hr_resample"] else ()

    # -- evaluation: the method's own HR -----------------------------------------------------------
    def predict(self, clip: Clip) -> np.ndarray:
        """RhythmNet gives no rPPG signal (it regresses HR): the evaluation calls `predict_hr`."""
        raise NotImplementedError(f"method {self.name!r} estimates HR directly and gives no rPPG signal")

    @torch.no_grad()
    def clip_windows(self, clip: Clip) -> torch.Tensor:
        """The clip's STMap windows (1, S, C, R, W) on the model's device (ROI means in chunks)."""
        _, device = self._require_model()
        means = []
        for start in range(0, len(clip), _CHUNK):
            block = torch.from_numpy(np.ascontiguousarray(np.asarray(clip.frames[start : start + _CHUNK])))
            means.append(roi_means(block[None].to(device.device), **self._map_options()) / 255.0)
        rgb = torch.cat(means, dim=1)  # (1, T, R, 3)
        parts = [rgb if space == "rgb" else rgb_to_yuv(rgb) for space in color_spaces(self.config["colors"])]
        stmap = torch.cat(parts, dim=-1).permute(0, 3, 2, 1).contiguous()
        return sliding_windows(stmap, int(self.config["window_frames"]), int(self.config["step_frames"]))

    @torch.no_grad()
    def predict_hr(self, clip: Clip) -> float:
        """HR (bpm) of the clip: the mean of its windows' HRs (the GRU runs over all of them)."""
        model, device = self._require_model()
        model.eval()
        with device.autocast():
            hrs = model(self.clip_windows(clip)).float()
        return float(hrs.mean())
