"""Feeding a sans-IO parser the way a connection does: every call gets all bytes seen so far.

Shared by the ClientHello and PROXY header tests; ``parse`` answers ``(status, value)`` and ``more`` is
its undecided status.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

A = TypeVar("A", bound=tuple[Any, Any])


def first_decision(parse: Callable[[bytes], A], more: object, chunks: Sequence[bytes]) -> A:
    """The first answer other than ``more`` while ``chunks`` arrive one by one, else the last answer."""
    seen = b""
    answer = parse(b"")
    for chunk in chunks:
        seen += chunk
        answer = parse(seen)
        if answer[0] is not more:
            return answer
    return answer


def decided_at(parse: Callable[[bytes], A], more: object, data: bytes) -> int | None:
    """The shortest prefix length with a decision, checking that every longer prefix agrees."""
    first: int | None = None
    decision: A | None = None
    for i in range(len(data) + 1):
        answer = parse(data[:i])
        if first is None:
            if answer[0] is not more:
                first, decision = i, answer
        else:
            assert answer == decision, f"decision changed at {i}"
    return first
