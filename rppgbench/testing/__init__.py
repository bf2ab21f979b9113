"""Public test helpers for plugin authors: the method conformance kit, tiny in-memory pulse clips, and
tiny datasets in the exact on-disk layouts of the real benchmark datasets.

`check_method(MyMethod, params)` checks a method against the contract (`rppgbench.testing.methods`);
the dataset fixtures test a loader without the licensed data.
"""

from rppgbench.testing.clips import make_pulse_clip, make_pulse_clips
from rppgbench.testing.dataset_fixtures import (
    FIXTURE_MAKERS,
    DatasetFixture,
    FixtureVideo,
    break_empty_subject,
    break_missing_reference,
    break_nan_reference,
    break_short_reference,
    break_video,
    break_wrong_rate,
    make_bp4d_tree,
    make_cohface_tree,
    make_ibvp_tree,
    make_lgippgi_tree,
    make_mahnob_tree,
    make_mmpd_tree,
    make_mmse_tree,
    make_pure_tree,
    make_scamps_tree,
    make_tree,
    make_ubfc_tree,
    make_ubfcphys_tree,
    make_vipl_tree,
    synthetic_face_frames,
    variable_frame_times,
    write_timed_video,
)
from rppgbench.testing.learning import LearningResult, check_learns_pulse
from rppgbench.testing.methods import METHOD_CHECKS, check_method

__all__ = [
    "LearningResult",
    "check_learns_pulse",
    "FIXTURE_MAKERS",
    "METHOD_CHECKS",
    "DatasetFixture",
    "FixtureVideo",
    "break_empty_subject",
    "break_missing_reference",
    "break_nan_reference",
    "break_short_reference",
    "break_video",
    "break_wrong_rate",
    "check_method",
    "make_bp4d_tree",
    "make_cohface_tree",
    "make_ibvp_tree",
    "make_lgippgi_tree",
    "make_mahnob_tree",
    "make_mmpd_tree",
    "make_mmse_tree",
    "make_pulse_clip",
    "make_pulse_clips",
    "make_pure_tree",
    "make_scamps_tree",
    "make_tree",
    "make_ubfc_tree",
    "make_ubfcphys_tree",
    "make_vipl_tree",
    "synthetic_face_frames",
    "variable_frame_times",
    "write_timed_video",
]
