"""Go-named counters in the default registry, as ``/metrics`` serves them."""

from __future__ import annotations

from prometheus_client import REGISTRY, generate_latest

import etcd.rafthttp.metrics  # noqa: F401  (registers the peer transport's snapshot counters)
from etcd.pkg.promgo import GoCounter, fix_exposition


def test_labelled_and_plain_counters_keep_their_names_in_help_type_and_samples() -> None:
    plain = GoCounter("test_promgo_plain", "A plain Go counter.")
    labelled = GoCounter("test_promgo_labelled", "A labelled Go counter.", "To")
    plain.inc()
    labelled.inc("2")
    labelled.inc("2", 2.0)
    text = fix_exposition(generate_latest(REGISTRY)).decode()
    assert "# TYPE test_promgo_plain counter\n" in text
    assert "test_promgo_plain 1.0\n" in text
    assert "# HELP test_promgo_labelled A labelled Go counter.\n" in text
    assert 'test_promgo_labelled{To="2"} 3.0\n' in text
    assert (plain.value(), labelled.value("2"), labelled.value("3")) == (1.0, 3.0, 0.0)


def test_the_peer_snapshot_counters_are_typed_under_etcds_names() -> None:
    text = fix_exposition(generate_latest(REGISTRY)).decode()
    assert "# TYPE etcd_network_snapshot_send_success counter\n" in text
    assert "etcd_network_snapshot_send_success_total" not in text
