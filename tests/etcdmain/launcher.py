"""``python -m etcd`` for the process tests while the v3 services and HTTP apps are still being written:
the same ``main``, with ``tests/embed/stand_ins.parts()`` as the member's parts (the real ones whenever
they import). Run as ``python tests/etcdmain/launcher.py <etcd flags>``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "embed"))

import stand_ins

from etcd.embed import etcd as embed_etcd
from etcd.etcdmain.main import exit_by_signal, main

if __name__ == "__main__":
    embed_etcd.default_parts = stand_ins.parts
    sys.exit(exit_by_signal(main()))
