"""Which keys differ between two recorded configurations, as dotted paths with both values."""

from __future__ import annotations

import json
from typing import Any

MISSING = object()


def differences(before: Any, now: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted key, old value, new value) for every leaf that differs; absent keys give MISSING."""
    if isinstance(before, dict) and isinstance(now, dict):
        found = []
        for key in sorted(set(before) | set(now), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            found += differences(before.get(key, MISSING), now.get(key, MISSING), path)
        return found
    return [] if before == now else [(prefix or "(root)", before, now)]


def describe(changes: list[tuple[str, Any, Any]], limit: int = 8) -> str:
    """`key: old -> new` for the first `limit` changes, and how many more there are."""

    def show(value: Any) -> str:
        return "(absent)" if value is MISSING else json.dumps(value, default=str)[:60]

    text = "; ".join(f"{key}: {show(old)} -> {show(new)}" for key, old, new in changes[:limit])
    return text + (f"; and {len(changes) - limit} more" if len(changes) > limit else "")
