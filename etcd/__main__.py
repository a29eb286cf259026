"""``python -m etcd``: run an etcd 3.4-compatible member (see ``etcd.etcdmain.main``)."""

import sys

from etcd.etcdmain.main import exit_by_signal, main

if __name__ == "__main__":
    sys.exit(exit_by_signal(main()))
