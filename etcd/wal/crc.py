"""CRC-32C (Castagnoli), the checksum of WAL records and snapshot files, as etcd's ``pkg/crc``.

``update(data, crc)`` continues a running checksum (argument order as ``zlib.crc32``), so a chain over many
records is one call per record. The C implementation from the ``crc32c`` package (hardware-accelerated,
several GB/s) is used when it is installed; otherwise a table-driven pure-Python fallback computes the same
values, far slower (a few MB/s). The two never disagree, so files written under one are read under the
other. ``IMPLEMENTATION`` names the one in use, for benchmarks and logs.
"""

from __future__ import annotations

from collections.abc import Callable

Buffer = bytes | bytearray | memoryview

_POLY_REVERSED = 0x82F63B78


def _make_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ _POLY_REVERSED if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_TABLE = _make_table()


def update_pure(data: Buffer, crc: int = 0) -> int:
    """Continues ``crc`` over ``data``; pure Python, the reference the C implementation is tested against."""
    table = _TABLE
    c = crc ^ 0xFFFFFFFF
    for b in bytes(data):
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def _pick() -> tuple[Callable[[Buffer, int], int], str]:
    try:
        import crc32c as _c  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return update_pure, "pure-python"
    # The C function itself, no Python wrapper: it is called twice per WAL record.
    fn: Callable[[Buffer, int], int] = _c.crc32c
    return fn, "crc32c"


update, IMPLEMENTATION = _pick()


def checksum(data: Buffer) -> int:
    """The CRC-32C of ``data`` alone."""
    return update(data, 0)
