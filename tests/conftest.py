"""Shared test settings: every test gets its own cache folder and no progress bars clutter output."""

import os

import pytest


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Keep caches out of the user's home: one cache folder per test session."""
    cache = tmp_path_factory.getbasetemp() / "rppgbench-cache"
    monkeypatch.setenv("RPPGBENCH_CACHE", str(cache))
    return cache


os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture
def one_torch_thread():
    """Tiny tensors on a shared CPU: torch uses one thread for the test, then what it had."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
