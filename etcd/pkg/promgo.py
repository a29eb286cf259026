"""Counters named as Go's Prometheus client names some of etcd's: the series without ``_total``.

prometheus-client adds ``_total`` to every counter's name; a ``GoCounter`` keeps etcd's bare name for its
samples, and ``fix_exposition`` puts the HELP/TYPE lines of every such counter right in the text that
``/metrics`` serves. One label at most (``To``/``From`` on the peer transport's snapshot counters).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import ClassVar

from prometheus_client import REGISTRY
from prometheus_client.core import Metric
from prometheus_client.registry import Collector


class GoCounter(Collector):
    """A counter registered in the default registry under ``name``, with an optional ``label``."""

    names: ClassVar[set[str]] = set()

    def __init__(self, name: str, documentation: str, label: str | None = None) -> None:
        self.name = name
        self.documentation = documentation
        self.label = label
        self._values: dict[str, float] = {}
        self._lock = threading.Lock()
        GoCounter.names.add(name)
        REGISTRY.register(self)

    def inc(self, label_value: str = "", amount: float = 1.0) -> None:
        with self._lock:
            self._values[label_value] = self._values.get(label_value, 0.0) + amount

    def value(self, label_value: str = "") -> float:
        return self._values.get(label_value, 0.0)

    def collect(self) -> Iterator[Metric]:
        metric = Metric(self.name, self.documentation, "counter")
        with self._lock:
            items = list(self._values.items())
        label = self.label
        if label is None:
            metric.add_sample(self.name, {}, self.value())
        else:
            for label_value, n in items:
                metric.add_sample(self.name, {label: label_value}, n)
        yield metric


def fix_exposition(text: bytes) -> bytes:
    """``generate_latest`` output with the HELP/TYPE lines of every ``GoCounter`` under its own name."""
    for name in GoCounter.names:
        raw = name.encode()
        text = text.replace(b"# HELP " + raw + b"_total ", b"# HELP " + raw + b" ")
        text = text.replace(b"# TYPE " + raw + b"_total ", b"# TYPE " + raw + b" ")
    return text
