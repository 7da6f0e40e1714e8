"""A thin helper over the generated Slipstream stubs: values, keys, errors, retries.

Everything here is plain grpcio + protobuf; the stubs come from proto/ (see generate.sh).
Import this module after the stubs folder is on sys.path (use_stubs() does that).
"""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, Iterable, TypeVar

import grpc


def use_stubs(folder: str) -> None:
    """Puts the generated stubs folder (holding slipstream/v1/*_pb2.py) on sys.path."""
    if folder not in sys.path:
        sys.path.insert(0, folder)


T = TypeVar("T")

# Trailing metadata every failed Slipstream call carries (see docs/api.md).
RESULT_CODE = "slipstream-result-code"
RESULT_NAME = "slipstream-result-name"
HINT = "slipstream-hint"
IN_DOUBT = "slipstream-in-doubt"

# Aerospike result codes an application usually branches on.
OK = 0
NOT_FOUND = 2
GENERATION = 3
PARAMETER = 4
RECORD_EXISTS = 5
TIMEOUT = 9
UNAVAILABLE = 11
BIN_TYPE = 12
KEY_BUSY = 14
DEVICE_OVERLOAD = 18
NAMESPACE = 20
INDEX_FOUND = 200
INDEX_NOT_FOUND = 201


class SlipstreamError(Exception):
    """A failed call, with the server's Aerospike result code when it sent one.

    result_code is None when the failure happened before the server answered (no connection,
    deadline exceeded in transit); then grpc_code tells what happened.
    """

    def __init__(self, err: grpc.RpcError):
        self.grpc_code: grpc.StatusCode = err.code()
        self.details: str = err.details() or ""
        meta = {k: v for k, v in (err.trailing_metadata() or ())}
        code = meta.get(RESULT_CODE)
        self.result_code: int | None = int(code) if code is not None else None
        self.result_name: str | None = meta.get(RESULT_NAME)
        self.hint: str | None = meta.get(HINT)
        # A write that timed out or lost its connection may or may not have been applied.
        self.in_doubt: bool = meta.get(IN_DOUBT) == "true" or (
            self.result_code is None and self.grpc_code == grpc.StatusCode.DEADLINE_EXCEEDED
        )
        super().__init__(f"{self.result_name or self.grpc_code.name} ({self.result_code}): {self.details}")


def call(fn: Callable[..., T], request: Any, timeout: float = 1.0, retries: int = 0,
         delay: float = 0.05) -> T:
    """Calls a unary stub method with a deadline; raises SlipstreamError.

    retries > 0 retries failures that are safe to retry: no answer (UNAVAILABLE with no result
    code, i.e. not connected), KEY_BUSY, DEVICE_OVERLOAD, UNAVAILABLE and TIMEOUT result codes.
    Only pass retries for reads and for writes that are idempotent (see docs/api.md).
    """
    for attempt in range(retries + 1):
        try:
            return fn(request, timeout=timeout)
        except grpc.RpcError as err:
            e = SlipstreamError(err)
            retryable = e.result_code in (KEY_BUSY, DEVICE_OVERLOAD, UNAVAILABLE, TIMEOUT) or (
                e.result_code is None and e.grpc_code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED))
            if attempt >= retries or not retryable:
                raise e from None
            time.sleep(delay * (2 ** attempt))
    raise AssertionError("unreachable")


def stream(fn: Callable[..., Iterable[T]], request: Any, timeout: float | None = None) -> Iterable[T]:
    """Iterates a server-streaming stub method; raises SlipstreamError if the stream fails."""
    try:
        yield from fn(request, timeout=timeout)
    except grpc.RpcError as err:
        raise SlipstreamError(err) from None


def to_value(v: Any):
    """A Python value as a slipstream.v1.Value. int is a 64-bit integer, float a double."""
    from slipstream.v1 import types_pb2 as t

    if v is None:
        return t.Value(nil=t.NilValue())
    if isinstance(v, bool):  # before int: bool is an int in Python
        return t.Value(bool=v)
    if isinstance(v, int):
        return t.Value(int=v)
    if isinstance(v, float):
        return t.Value(double=v)
    if isinstance(v, str):
        return t.Value(string=v)
    if isinstance(v, (bytes, bytearray)):
        return t.Value(bytes=bytes(v))
    if isinstance(v, (list, tuple)):
        return t.Value(list=t.ListValue(items=[to_value(x) for x in v]))
    if isinstance(v, dict):
        return t.Value(map=t.MapValue(entries=[t.MapEntry(key=to_value(k), value=to_value(x)) for k, x in v.items()]))
    raise TypeError(f"cannot send a {type(v).__name__} as a Slipstream value")


def from_value(v) -> Any:
    """A slipstream.v1.Value as a Python value (GeoJSON comes back as its text)."""
    kind = v.WhichOneof("kind")
    if kind is None or kind == "nil":
        return None
    if kind == "list":
        return [from_value(x) for x in v.list.items]
    if kind == "map":
        return {from_value(e.key): from_value(e.value) for e in v.map.entries}
    return getattr(v, kind)


def key(namespace: str, set_name: str, user_key: int | str | bytes):
    """A slipstream.v1.Key addressing a record by its user key."""
    from slipstream.v1 import types_pb2 as t

    if isinstance(user_key, int):
        return t.Key(namespace=namespace, set=set_name, int_key=user_key)
    if isinstance(user_key, str):
        return t.Key(namespace=namespace, set=set_name, string_key=user_key)
    return t.Key(namespace=namespace, set=set_name, bytes_key=bytes(user_key))


def bins(values: dict[str, Any]):
    """A dict of bin name → Python value as a list of slipstream.v1.Bin."""
    from slipstream.v1 import types_pb2 as t

    return [t.Bin(name=n, value=to_value(v)) for n, v in values.items()]


def bins_of(record_or_bins) -> dict[str, Any]:
    """The bins of a Record (or a repeated Bin field) as a dict."""
    items = record_or_bins.bins if hasattr(record_or_bins, "bins") else record_or_bins
    return {b.name: from_value(b.value) for b in items}
