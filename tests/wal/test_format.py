"""The on-disk format pieces: CRC-32C values, frame sizes, record bytes, segment names."""

from __future__ import annotations

import random
import struct

import pytest

from etcd.raft.raftpb.raft_pb2 import Entry
from etcd.wal import crc
from etcd.wal.decoder import decode
from etcd.wal.encoder import (
    CRC_TYPE,
    ENTRY_TYPE,
    Encoder,
    chain,
    decode_frame_size,
    encode_frame_size,
    marshal_record,
)
from etcd.wal.names import is_valid_seq, parse_wal_name, search_index, wal_name
from etcd.wal.walpb.record_pb2 import Record


def test_crc32c_known_values() -> None:
    # RFC 3720 B.4 check value of CRC-32C over "123456789", and its iSCSI test vector of 32 zero bytes.
    assert crc.checksum(b"123456789") == 0xE3069283
    assert crc.checksum(bytes(32)) == 0x8A9136AA
    assert crc.update_pure(bytes(32)) == 0x8A9136AA


def test_crc_update_continues_a_running_checksum() -> None:
    rng = random.Random(7)
    data = rng.randbytes(10_000)
    assert crc.update(data[3333:], crc.update(data[:3333], 0)) == crc.checksum(data)


def test_c_and_pure_python_crc_agree() -> None:
    rng = random.Random(11)
    for n in (0, 1, 7, 8, 9, 63, 64, 65, 1000):
        data = rng.randbytes(n)
        seed = rng.getrandbits(32)
        assert crc.update(data, seed) == crc.update_pure(data, seed)


@pytest.mark.parametrize(
    ("data_bytes", "field", "pad"),
    [
        (0, 0, 0),
        (8, 8, 0),
        (13, 13 | (0x80 | 3) << 56, 3),
        (17, 17 | (0x80 | 7) << 56, 7),
        (1 << 20, 1 << 20, 0),
    ],
)
def test_frame_size_as_etcd(data_bytes: int, field: int, pad: int) -> None:
    assert encode_frame_size(data_bytes) == (field, pad)
    assert decode_frame_size(field) == (data_bytes, pad)


def test_encoded_frame_is_length_record_padding() -> None:
    e = Entry(term=1, index=1, data=b"hello").SerializeToString()
    buf = bytearray()
    enc = Encoder(0)
    enc.encode(buf, ENTRY_TYPE, e)
    rec = Record(type=ENTRY_TYPE, crc=chain(0, ENTRY_TYPE, e), data=e).SerializeToString()
    (field,) = struct.unpack_from("<Q", buf)
    n, pad = decode_frame_size(field)
    assert n == len(rec)
    assert bytes(buf[8 : 8 + n]) == rec
    assert bytes(buf[8 + n :]) == bytes(pad)
    assert len(buf) % 8 == 0
    assert enc.crc == Record.FromString(rec).crc


def test_chain_covers_the_record_type() -> None:
    data = b"same bytes"
    assert chain(5, ENTRY_TYPE, data) != chain(5, ENTRY_TYPE + 1, data)


def test_crc_record_carries_the_chain_and_decodes_to_nothing() -> None:
    buf = bytearray()
    enc = Encoder(0xDEADBEEF)
    enc.encode_crc(buf)
    assert enc.crc == 0xDEADBEEF
    out = decode([("s", bytes(buf))], prev_crc=0xDEADBEEF)
    assert out.records == []
    assert out.crc == 0xDEADBEEF
    n, _ = decode_frame_size(struct.unpack_from("<Q", buf)[0])
    assert Record.FromString(bytes(buf[8 : 8 + n])) == Record(type=CRC_TYPE, crc=0xDEADBEEF)


def test_wal_names_round_trip_and_sort() -> None:
    assert wal_name(1, 0x2A) == "0000000000000001-000000000000002a.wal"
    assert parse_wal_name("0000000000000001-000000000000002a.wal") == (1, 42)
    for bad in ("0-0.wal", "0000000000000001-000000000000002a.snap", "x" * 16 + "-" + "0" * 16 + ".wal"):
        with pytest.raises(ValueError):
            parse_wal_name(bad)


def test_search_index_finds_the_segment_holding_an_index() -> None:
    names = [wal_name(0, 0), wal_name(1, 10), wal_name(2, 20)]
    assert [search_index(names, i) for i in (0, 9, 10, 19, 20, 99)] == [0, 0, 1, 1, 2, 2]
    assert search_index([wal_name(3, 5)], 4) == -1


def test_valid_seq_needs_consecutive_numbers() -> None:
    assert is_valid_seq([wal_name(4, 0), wal_name(5, 1), wal_name(6, 9)])
    assert not is_valid_seq([wal_name(4, 0), wal_name(6, 1)])
    assert is_valid_seq([])


@pytest.mark.parametrize(
    ("rec_type", "crc_value", "data"),
    [
        (CRC_TYPE, 0, b""),
        (CRC_TYPE, 0xFFFFFFFF, b""),
        (ENTRY_TYPE, 1, b"x"),
        (ENTRY_TYPE, 0x7F, b"y" * 127),
        (ENTRY_TYPE, 0x80, b"z" * 128),
        (ENTRY_TYPE, 0, b"q" * 70000),
    ],
)
def test_hand_marshalled_record_equals_protobuf(rec_type: int, crc_value: int, data: bytes) -> None:
    expected = Record(type=rec_type, crc=crc_value, data=data).SerializeToString()
    assert marshal_record(rec_type, crc_value, data) == expected


def test_varint_lengths_at_every_boundary() -> None:
    # Record's data length goes through the same varint as the CRC; check both sides of each byte boundary.
    for bits in range(0, 40, 7):
        for n in {max(0, (1 << bits) - 1), 1 << bits, (1 << bits) + 1}:
            data = b"d" * (n % 300)
            crc_value = n & 0xFFFFFFFF
            assert (
                marshal_record(ENTRY_TYPE, crc_value, data)
                == Record(type=ENTRY_TYPE, crc=crc_value, data=data).SerializeToString()
            )
    big = b"b" * (1 << 21)
    assert marshal_record(ENTRY_TYPE, 3, big) == Record(type=ENTRY_TYPE, crc=3, data=big).SerializeToString()
