"""Public test helpers: tiny datasets in the exact on-disk layouts of the real benchmark datasets.

Plugin authors can use them to test their own loaders and methods without the licensed data.
"""

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
    make_cohface_tree,
    make_mahnob_tree,
    make_mmse_tree,
    make_pure_tree,
    make_tree,
    make_ubfc_tree,
    make_vipl_tree,
    synthetic_face_frames,
    variable_frame_times,
    write_timed_video,
)

__all__ = [
    "FIXTURE_MAKERS",
    "DatasetFixture",
    "FixtureVideo",
    "break_empty_subject",
    "break_missing_reference",
    "break_nan_reference",
    "break_short_reference",
    "break_video",
    "break_wrong_rate",
    "make_cohface_tree",
    "make_mahnob_tree",
    "make_mmse_tree",
    "make_pure_tree",
    "make_tree",
    "make_ubfc_tree",
    "make_vipl_tree",
    "synthetic_face_frames",
    "variable_frame_times",
    "write_timed_video",
]
