"""Physical compaction: delete compacted revisions from the key bucket in batches
(etcd's ``mvcc/kvstore_compaction.go``).

The scheduled compact revision is already persisted before this runs; finishing writes the finished
compact revision into the last batch, so a compaction cut short by a crash is run again on open.
"""

from __future__ import annotations

import struct
import threading
import time

from etcd.backend import buckets
from etcd.backend.backend import Backend
from etcd.mvcc import metrics
from etcd.mvcc.revision import Revision, bytes_to_rev, rev_to_bytes

FINISHED_COMPACT_KEY = b"finishedCompactRev"
SCHEDULED_COMPACT_KEY = b"scheduledCompactRev"


def schedule_compaction(
    backend: Backend,
    compact_main_rev: int,
    keep: set[Revision],
    *,
    batch_limit: int,
    pause: float,
    stop: threading.Event,
) -> bool:
    """Deletes every revision with main <= ``compact_main_rev`` not in ``keep``.

    Each batch of ``batch_limit`` keys is deleted under the backend lock and committed at once, then
    the lock is let go for ``pause`` seconds so writers are not starved. Returns False if ``stop`` was
    set before the end (the compaction resumes on the next open), True when finished.
    """
    end = struct.pack(">Q", compact_main_rev + 1)
    last = bytes(17)
    total_start = time.perf_counter()
    deleted = 0
    while True:
        batch_start = time.perf_counter()
        with backend.batch_tx() as tx:
            kvs = tx.unsafe_range(buckets.KEY, last, end, batch_limit)
            rev = Revision(0, 0)
            for k, _ in kvs:
                rev = bytes_to_rev(k)
                if rev not in keep:
                    tx.unsafe_delete(buckets.KEY, k)
                    deleted += 1
            if len(kvs) < batch_limit:
                tx.unsafe_put(buckets.META, FINISHED_COMPACT_KEY, rev_to_bytes(Revision(compact_main_rev)))
                metrics.db_compaction_keys.inc(deleted)
                metrics.db_compaction_total.observe((time.perf_counter() - total_start) * 1000)
                return True
            last = rev_to_bytes(Revision(rev.main, rev.sub + 1))
        # Commit each batch at once rather than letting deletes pile up in the write buffer.
        backend.force_commit()
        metrics.db_compaction_pause.observe((time.perf_counter() - batch_start) * 1000)
        if stop.wait(pause):
            return False
