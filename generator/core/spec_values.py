"""Walking the strings of a spec's values, and suggesting the name a misspelt one meant."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from typing import Any

Pointer = tuple[Any, ...]


def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    """``did you mean 'X'?`` for the closest of ``options``, if one is close enough."""
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else None


def strings(value: Any, pointer: Pointer, skip: frozenset[str] = frozenset()) -> Iterator[tuple[Pointer, str]]:
    """Every string under ``value`` with its path from ``pointer`` (the values of keys in ``skip`` left out)."""
    if isinstance(value, dict):
        for key, sub in value.items():
            if key not in skip:
                yield from strings(sub, (*pointer, key), skip)
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from strings(sub, (*pointer, index), skip)
    elif isinstance(value, str):
        yield pointer, value
