"""The gateway's JSON: request bodies into messages and messages into JSON, as etcd 3.4's gateway does it.

etcd's gateway reads each request with Go's ``json.Decoder`` and golang/protobuf's ``jsonpb``, and writes
with ``jsonpb`` using the .proto field names. Clients see Go's error texts, so :class:`BodyReader` reads
as those two do and raises :class:`DecodeError` with their words: the scanner's syntax errors ("invalid
character 'b' looking for beginning of object key string", "unexpected EOF"), type errors ("json: cannot
unmarshal number 1.5 into Go value of type int64"), unknown enum names ('unknown value "BAD" for enum
etcdserverpb.RangeRequest_SortOrder') and bad base64 ("illegal base64 data at input byte N"). Fields are
checked in declaration order, so with several bad fields the first reported is Go's. Accepted as jsonpb
does: .proto or camelCase names, integers as numbers or quoted, enums by name or number, unknown names.

Values are read one after another from one body (a streaming request is a sequence of JSON objects),
bytes after the first value of a unary request are ignored, and an empty body is an empty message.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)

_WHITESPACE = b" \t\r\n"
_B64_ALPHABET = re.compile(rb"[A-Za-z0-9+/]")


class DecodeError(Exception):
    """A request body the gateway cannot read; ``str()`` is the text etcd's gateway answers with."""


def _quote_char(c: int) -> str:
    """Go's ``quoteChar``: how a scanner error names the offending byte."""
    if c == ord("'"):
        return "'\\''"
    if c == ord('"'):
        return "'\"'"
    ch = chr(c)
    if ch.isprintable():
        return f"'{ch}'"
    escaped = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v"}
    return "'" + escaped.get(ch, f"\\x{c:02x}") + "'"


def _syntax(c: int, context: str) -> DecodeError:
    return DecodeError(f"invalid character {_quote_char(c)} {context}")


class _Scanner:
    """Finds where the JSON value starting at ``pos`` ends, failing with Go's scanner messages."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def _peek(self, pos: int) -> int:
        if pos >= len(self.data):
            raise DecodeError("unexpected EOF")
        return self.data[pos]

    def skip_whitespace(self, pos: int) -> int:
        while pos < len(self.data) and self.data[pos] in _WHITESPACE:
            pos += 1
        return pos

    def value(self, pos: int) -> int:
        """The end of the value at ``pos`` (whitespace before it skipped)."""
        pos = self.skip_whitespace(pos)
        c = self._peek(pos)
        if c == ord("{"):
            return self._object(pos + 1)
        if c == ord("["):
            return self._array(pos + 1)
        if c == ord('"'):
            return self._string(pos + 1)
        if c == ord("-") or ord("0") <= c <= ord("9"):
            return self._number(pos)
        for literal in (b"true", b"false", b"null"):
            if c == literal[0]:
                return self._literal(pos, literal)
        raise _syntax(c, "looking for beginning of value")

    def _object(self, pos: int) -> int:
        pos = self.skip_whitespace(pos)
        if self._peek(pos) == ord("}"):
            return pos + 1
        while True:
            pos = self.skip_whitespace(pos)
            c = self._peek(pos)
            if c != ord('"'):
                raise _syntax(c, "looking for beginning of object key string")
            pos = self.skip_whitespace(self._string(pos + 1))
            c = self._peek(pos)
            if c != ord(":"):
                raise _syntax(c, "after object key")
            pos = self.skip_whitespace(self.value(pos + 1))
            c = self._peek(pos)
            if c == ord("}"):
                return pos + 1
            if c != ord(","):
                raise _syntax(c, "after object key:value pair")
            pos += 1

    def _array(self, pos: int) -> int:
        pos = self.skip_whitespace(pos)
        if self._peek(pos) == ord("]"):
            return pos + 1
        while True:
            pos = self.skip_whitespace(self.value(pos))
            c = self._peek(pos)
            if c == ord("]"):
                return pos + 1
            if c != ord(","):
                raise _syntax(c, "after array element")
            pos += 1

    def _string(self, pos: int) -> int:
        while True:
            c = self._peek(pos)
            if c == ord('"'):
                return pos + 1
            if c < 0x20:
                raise _syntax(c, "in string literal")
            if c == ord("\\"):
                e = self._peek(pos + 1)
                if e == ord("u"):
                    for i in range(pos + 2, pos + 6):
                        h = self._peek(i)
                        if chr(h) not in "0123456789abcdefABCDEF":
                            raise _syntax(h, "in \\u hexadecimal character escape")
                    pos += 6
                    continue
                if chr(e) not in '"\\/bfnrt':
                    raise _syntax(e, "in string escape code")
                pos += 2
                continue
            pos += 1

    def _digits(self, pos: int) -> int:
        while pos < len(self.data) and ord("0") <= self.data[pos] <= ord("9"):
            pos += 1
        return pos

    def _need_digit(self, pos: int, context: str) -> None:
        c = self._peek(pos)
        if not ord("0") <= c <= ord("9"):
            raise _syntax(c, context)

    def _number(self, pos: int) -> int:
        if self.data[pos] == ord("-"):
            pos += 1
            self._need_digit(pos, "in numeric literal")
        pos = pos + 1 if self.data[pos] == ord("0") else self._digits(pos)
        if pos < len(self.data) and self.data[pos] == ord("."):
            self._need_digit(pos + 1, "after decimal point in numeric literal")
            pos = self._digits(pos + 1)
        if pos < len(self.data) and self.data[pos] in b"eE":
            pos += 1
            if pos < len(self.data) and self.data[pos] in b"+-":
                pos += 1
            self._need_digit(pos, "in exponent of numeric literal")
            pos = self._digits(pos)
        return pos

    def _literal(self, pos: int, literal: bytes) -> int:
        for i in range(1, len(literal)):
            c = self._peek(pos + i)
            if c != literal[i]:
                raise _syntax(c, f"in literal {literal.decode()} (expecting {_quote_char(literal[i])})")
        return pos + len(literal)


class _Number(str):
    """A JSON number as written, so errors can quote it as Go does and no precision is lost."""


def _loads(raw: bytes) -> Any:
    return json.loads(raw, parse_int=_Number, parse_float=_Number)


def _go_kind(value: Any) -> str:
    """The JSON kind Go's ``UnmarshalTypeError`` names."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, _Number):
        return "number"
    if isinstance(value, dict):
        return "object"
    return "array" if isinstance(value, list) else "string"


def _type_error(value: Any, go_type: str) -> DecodeError:
    return DecodeError(f"json: cannot unmarshal {_go_kind(value)} into Go value of type {go_type}")


# The Go type golang/protobuf generates for each scalar, with its range where it is an integer.
_INTEGERS: dict[int, tuple[str, int, int]] = {
    FieldDescriptor.TYPE_INT64: ("int64", -(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: ("int64", -(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: ("int64", -(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: ("uint64", 0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: ("uint64", 0, 2**64 - 1),
    FieldDescriptor.TYPE_INT32: ("int32", -(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: ("int32", -(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: ("int32", -(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: ("uint32", 0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: ("uint32", 0, 2**32 - 1),
}
_INTEGER_LITERAL = re.compile(r"-?[0-9]+")


def _go_enum_name(field: FieldDescriptor) -> str:
    """The Go type of an enum, e.g. ``etcdserverpb.RangeRequest_SortOrder``."""
    enum = field.enum_type
    package = enum.file.package
    nested = enum.full_name.removeprefix(package + ".") if package else enum.full_name
    return f"{package}.{nested.replace('.', '_')}" if package else nested


def _bytes(value: Any) -> str:
    """Go's ``encoding/json`` reading a ``[]byte``: standard base64 with padding, else its error."""
    if not isinstance(value, str) or isinstance(value, _Number):
        raise _type_error(value, "[]uint8")
    data = value.replace("\r", "").replace("\n", "").encode()
    for i, c in enumerate(data):
        if c == ord("="):
            break
        if not _B64_ALPHABET.match(bytes([c])):
            raise DecodeError(f"illegal base64 data at input byte {i}")
    try:
        base64.b64decode(data, validate=True)
    except binascii.Error:
        quantum = len(data.rstrip(b"=")) // 4 * 4
        raise DecodeError(f"illegal base64 data at input byte {quantum}") from None
    return value


def _unquote_number(value: str) -> Any:
    """jsonpb reads a quoted number by dropping the quotes and reading the rest as JSON."""
    data = value.encode()
    scanner = _Scanner(data)
    try:
        end = scanner.value(0)
    except DecodeError as e:
        if str(e) == "unexpected EOF":  # json.Unmarshal words the end of input so
            raise DecodeError("unexpected end of JSON input") from None
        raise
    end = scanner.skip_whitespace(end)
    if end < len(data):
        raise _syntax(data[end], "after top-level value")
    return _loads(data)


def _integer(value: Any, field: FieldDescriptor) -> int:
    go_type, low, high = _INTEGERS[field.type]
    if isinstance(value, str) and not isinstance(value, _Number):
        value = _unquote_number(value)
    if not isinstance(value, _Number):
        raise _type_error(value, go_type)
    if not _INTEGER_LITERAL.fullmatch(value) or not low <= int(value) <= high:
        raise DecodeError(f"json: cannot unmarshal number {value} into Go value of type {go_type}")
    return int(value)


def _scalar(value: Any, field: FieldDescriptor) -> Any:
    """One value of ``field`` as Go's jsonpb reads it, converted for ``json_format.ParseDict``."""
    t = field.type
    if t == FieldDescriptor.TYPE_MESSAGE:
        if not isinstance(value, dict):
            raise _type_error(value, "map[string]json.RawMessage")
        return _message(value, field.message_type)
    if t == FieldDescriptor.TYPE_BYTES:
        return _bytes(value)
    if t in _INTEGERS:
        return _integer(value, field)
    if t == FieldDescriptor.TYPE_ENUM:
        if isinstance(value, str) and not isinstance(value, _Number):
            if field.enum_type.values_by_name.get(value) is None:
                raise DecodeError(f'unknown value "{value}" for enum {_go_enum_name(field)}')
            return value
        if not isinstance(value, _Number):
            raise _type_error(value, _go_enum_name(field))
        if not _INTEGER_LITERAL.fullmatch(value) or not -(2**31) <= int(value) < 2**31:
            raise DecodeError(
                f"json: cannot unmarshal number {value} into Go value of type {_go_enum_name(field)}"
            )
        return int(value)
    if t == FieldDescriptor.TYPE_BOOL:
        if not isinstance(value, bool):
            raise _type_error(value, "bool")
        return value
    if t == FieldDescriptor.TYPE_STRING:
        if not isinstance(value, str) or isinstance(value, _Number):
            raise _type_error(value, "string")
        return str(value)
    # double and float: none in etcd's requests; protobuf reads them.
    return float(value) if isinstance(value, _Number) else value


def _message(obj: dict[str, Any], desc: Descriptor) -> dict[str, Any]:
    """``obj`` read as golang/protobuf's jsonpb reads a ``desc`` (fields in declaration order, the .proto
    name before the camelCase one, oneof members last, unknown names ignored), as a dict ParseDict takes."""
    out: dict[str, Any] = {}
    plain = [f for f in desc.fields if f.containing_oneof is None]
    oneof = [f for f in desc.fields if f.containing_oneof is not None]
    for field in plain + oneof:
        name = field.name if field.name in obj else field.json_name
        if name not in obj or obj[name] is None:
            continue
        value = obj[name]
        if field.is_repeated:
            if not isinstance(value, list):
                raise _type_error(value, "[]json.RawMessage")
            out[field.name] = [_scalar(item, field) for item in value]
        else:
            out[field.name] = _scalar(value, field)
    return out


class BodyReader:
    """Reads JSON messages one after another from a request body."""

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._pos = 0
        self._scanner = _Scanner(body)

    def at_end(self) -> bool:
        """Whether only whitespace is left (Go's ``io.EOF``)."""
        self._pos = self._scanner.skip_whitespace(self._pos)
        return self._pos >= len(self._body)

    def next_message(self, message_type: type[M]) -> M:
        """The next value as a ``message_type``; at the end of the body, an empty message."""
        message: M = message_type()
        if self.at_end():
            return message
        end = self._scanner.value(self._pos)
        raw = self._body[self._pos : end]
        self._pos = end
        value = _loads(raw)
        if value is None:
            return message
        if not isinstance(value, dict):
            raise _type_error(value, "map[string]json.RawMessage")
        try:
            json_format.ParseDict(_message(value, message.DESCRIPTOR), message)
        except json_format.ParseError as e:
            raise DecodeError(str(e)) from None
        return message


def to_json(message: Message) -> dict[str, Any]:
    """``message`` as etcd's gateway prints it: .proto field names, 64-bit integers as strings,
    enums by name, bytes in base64, fields at their default value left out."""
    result: dict[str, Any] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return result


def dumps(value: Any) -> bytes:
    """Compact JSON, as Go writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
