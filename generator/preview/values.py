"""Values read from the built DAG as plain, lane-independent data: what every section of a preview holds."""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta
from typing import Any

from generator.spec.normalise import format_duration


def plain(value: Any) -> Any:
    """An operator argument as JSON-ready data; templates stay the strings they are."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, timedelta):
        return format_duration(value.total_seconds())
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): plain(sub) for key, sub in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(sub) for sub in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(sub) for sub in value), key=str)
    # Objects (callables, hooks...) have no stable text; their type is what matters to a reader.
    return f"<{type(value).__name__}>"
