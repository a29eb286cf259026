#!/usr/bin/env bash
# Installs the external programs the tests and benchmarks drive, when they are missing:
# etcdctl 3.4 (Debian etcd-client) and the real etcd 3.4 (etcd-server, the reference the wire-compatibility
# tests compare against) for `make test`; wrk and h2load in addition for `make bench`.
# Needs root for apt-get; without it, says what to install and lets the tests skip.
set -u
want=()
command -v etcdctl >/dev/null 2>&1 || want+=(etcd-client)
command -v etcd >/dev/null 2>&1 || want+=(etcd-server)
if [ "${1:-}" = "--bench" ]; then
  command -v wrk >/dev/null 2>&1 || want+=(wrk)
  command -v h2load >/dev/null 2>&1 || want+=(nghttp2-client)
fi
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-tools: please install ${want[*]} (apt-get install ${want[*]}); tests that need them will skip" >&2
  exit 0
fi
echo "install-tools: apt-get install ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq "${want[@]}" >/dev/null 2>&1 || echo "install-tools: apt-get install ${want[*]} failed; dependent tests will skip" >&2
exit 0
