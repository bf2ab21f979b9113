"""The result store: the one owner of a run folder's layout, its atomic writes, reading back and checks.

- `layout`: `RunStore` and `FoldStore`, every file name of a run folder and its path;
- `files`: atomic writes, JSON and the predictions-CSV format;
- `verify`: a run folder checked before its numbers are used, and a fold checked before it is reused.

Layout: docs/architecture.md, "Result store".
"""

from rppgbench.store.files import (
    PREDICTION_COLUMNS,
    atomic_write_bytes,
    jsonable,
    normalised,
    read_json,
    read_predictions,
    write_json,
    write_predictions,
)
from rppgbench.store.layout import MODEL_IN_RUN, FoldStore, RunStore, find_models, find_runs, run_of_model

__all__ = [
    "MODEL_IN_RUN",
    "PREDICTION_COLUMNS",
    "FoldStore",
    "RunStore",
    "atomic_write_bytes",
    "find_models",
    "find_runs",
    "jsonable",
    "normalised",
    "read_json",
    "read_predictions",
    "run_of_model",
    "write_json",
    "write_predictions",
]
