"""The one training harness of rppgbench: sampling, losses, loop, checkpoints, inference, NeuralMethod.

See docs/training.md for the contracts. Every neural method plugin trains through these pieces.
"""

from rppgbench.training.augment import (
    BatchAugmentation,
    SampleAugmentation,
    apply_batch_augmentations,
    apply_sample_augmentations,
)
from rppgbench.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from rppgbench.training.device import DeviceSetup, seed_everything, setup_device
from rppgbench.training.inference import predict_signal, window_starts
from rppgbench.training.losses import FrequencyCrossEntropyLoss, HybridLoss, NegPearsonLoss, power_spectrum_at
from rppgbench.training.neural_method import NeuralMethod, neural_params, read_weights_info, resize_frames
from rppgbench.training.sampling import (
    LOADER_DEFAULTS,
    Batch,
    ClipSource,
    ClipWindowDataset,
    EpochSampler,
    Sample,
    collate_samples,
    make_loaders,
    split_by_subject,
)
from rppgbench.training.trainer import (
    LoopConfig,
    LoopResult,
    TrainingDivergedError,
    TrainingLoop,
    build_optimizer,
    build_scheduler,
)

__all__ = [
    "LOADER_DEFAULTS",
    "Batch",
    "BatchAugmentation",
    "ClipSource",
    "ClipWindowDataset",
    "DeviceSetup",
    "EpochSampler",
    "FrequencyCrossEntropyLoss",
    "HybridLoss",
    "LoopConfig",
    "LoopResult",
    "NegPearsonLoss",
    "NeuralMethod",
    "Sample",
    "SampleAugmentation",
    "TrainingDivergedError",
    "TrainingLoop",
    "apply_batch_augmentations",
    "apply_sample_augmentations",
    "build_optimizer",
    "build_scheduler",
    "collate_samples",
    "load_checkpoint",
    "make_loaders",
    "neural_params",
    "power_spectrum_at",
    "predict_signal",
    "read_weights_info",
    "resize_frames",
    "rng_state",
    "save_checkpoint",
    "seed_everything",
    "set_rng_state",
    "setup_device",
    "split_by_subject",
    "window_starts",
]
