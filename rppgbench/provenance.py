"""Provenance recorded in every result: versions, git commit, machine, command line and times."""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import rppgbench

KEY_PACKAGES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "torch",
    "opencv-contrib-python",
    "mediapipe",
    "h5py",
)


def now_iso() -> str:
    """Current UTC time, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed versions of the packages that can change results (None if absent)."""
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def git_state(folder: Path | None = None) -> dict[str, Any]:
    """Commit and dirty flag of the git checkout holding rppgbench (None outside a checkout)."""
    where = folder or Path(rppgbench.__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = None if commit is None else bool(git("status", "--porcelain", "--untracked-files=no"))
    return {"commit": commit, "dirty": dirty}


def cpu_model() -> str | None:
    """The processor's model name (Linux: /proc/cpuinfo), or None where it cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def collect() -> dict[str, Any]:
    """Everything needed to say which code, on which machine, produced a result."""
    try:
        import torch

        accelerator = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        accelerator = None
    return {
        "rppgbench": rppgbench.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "cpu_count": __import__("os").cpu_count(),
        "cpu": cpu_model(),
        "accelerator": accelerator,
        "packages": package_versions(),
        "git": git_state(),
        "command": command_line(),
    }


def command_line() -> list[str]:
    """The command as typed: the program's name without this machine's path to it, then its arguments."""
    return [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv else []
