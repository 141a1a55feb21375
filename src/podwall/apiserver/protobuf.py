"""The protobuf wire format: reading the bodies kubectl's typed clients send (`kubectl create
namespace`), and writing the one document served as protobuf (`/openapi/v2`, see openapi_v2).

Kubernetes' protobuf wire form is the magic `k8s\\x00` and a `runtime.Unknown` message
(typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2); `raw` holds the object. Only what
kubectl creates through a typed client here is decoded: a Namespace (metadata = 1, spec = 2
{finalizers = 1}) with the ObjectMeta fields a create may carry (name = 1, generateName = 2,
namespace = 3, labels = 11, annotations = 12, finalizers = 14). Answers go out as JSON, which
kubectl also accepts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["MAGIC", "ProtobufError", "decode_object", "encode_field", "fields"]

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7


def fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value): varints as int, length-delimited fields as bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated field")
            yield number, data[pos : pos + length]
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise ProtobufError("expected a string")
    return value.decode("utf-8")


def _entry(value: int | bytes) -> tuple[str, str]:
    key = val = ""
    for number, item in fields(value if isinstance(value, bytes) else b""):
        if number == 1:
            key = _text(item)
        elif number == 2:
            val = _text(item)
    return key, val


def _object_meta(data: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    names = {1: "name", 2: "generateName", 3: "namespace"}
    for number, value in fields(data):
        if number in names and _text(value):
            meta[names[number]] = _text(value)
        elif number in (11, 12):
            key, val = _entry(value)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = val
        elif number == 14:
            meta.setdefault("finalizers", []).append(_text(value))
    return meta


def _namespace(data: bytes) -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {}}
    for number, value in fields(data):
        if number == 1 and isinstance(value, bytes):
            body["metadata"] = _object_meta(value)
        elif number == 2 and isinstance(value, bytes):
            finalizers = [_text(v) for n, v in fields(value) if n == 1]
            body["spec"] = {"finalizers": finalizers} if finalizers else {}
    return body


def decode_object(data: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object; ProtobufError for what is not supported."""
    if not data.startswith(MAGIC):
        raise ProtobufError("provided data does not appear to be a protobuf message")
    api_version = kind = ""
    raw = b""
    for number, value in fields(data[len(MAGIC) :]):
        if number == 1 and isinstance(value, bytes):
            for n, v in fields(value):
                if n == 1:
                    api_version = _text(v)
                elif n == 2:
                    kind = _text(v)
        elif number == 2 and isinstance(value, bytes):
            raw = value
    if (api_version, kind) != ("v1", "Namespace"):
        raise ProtobufError(f"protobuf bodies of {kind or 'this kind'} are not supported")
    return {"apiVersion": api_version, "kind": kind, **_namespace(raw)}


def encode_field(number: int, payload: bytes | str) -> bytes:
    """A length-delimited field (wire type 2): a string, bytes, or an embedded message."""
    data = payload.encode() if isinstance(payload, str) else payload
    return _encode_varint(number << 3 | 2) + _encode_varint(len(data)) + data


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)
