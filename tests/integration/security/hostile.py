"""Hostile requests for the gRPC property tests: strategies built from the wire contract itself.

`request_strategy(descriptor)` generates any message of the contract with hostile values: random and
control-character text, ids that exist on the server (so requests get past the first lookups),
boundary and out-of-range numbers, unknown enum values, oversized strings and huge repeated fields.
Because it walks the descriptors, a method added to the proto is fuzzed without touching this file.

`Outcome` classifies what the server answered. A clean answer is a status a handler chose
deliberately. UNKNOWN (an exception escaped a handler) is a failure, except for the known gaps
listed in `KNOWN_GAPS` (reported, with a strict-xfail regression test each), which are counted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from hypothesis import strategies as st

from shared.pb.outrider.v1 import delegate_pb2, operator_pb2

DELEGATE_SERVICE = delegate_pb2.DESCRIPTOR.services_by_name["DelegateService"]
OPERATOR_SERVICE = operator_pb2.DESCRIPTOR.services_by_name["OperatorService"]
METHODS: tuple[MethodDescriptor, ...] = (*DELEGATE_SERVICE.methods, *OPERATOR_SERVICE.methods)

# Statuses a handler (or grpc, for a message over the size limit) answers on purpose.
CLEAN = frozenset(
    {
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.OUT_OF_RANGE,
    }
)

# Exceptions known to escape a handler as UNKNOWN, each reported with a strict-xfail test
# (test_hostile_grpc.py) so the list shrinks as they are fixed.
KNOWN_GAPS = {
    "undecodable request": re.compile(r"^Unexpected <class 'google\.protobuf\.message\.DecodeError'>"),
}

INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_ENUM: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}

NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "\t\r\n",
    "../../../../etc/passwd",
    "'; DROP TABLE tasks; --",
    '" OR 1=1 --',
    "%s%s%n",
    "${secrets.db-password}",
    "${app.name}${",
    "$${",
    "{{7*7}}",
    "²:³.¹",  # digits to str.isdigit() that int() refuses
    "٣.٤",  # digits int() accepts
    "9" * 5000,
    "-1",
    "1e999",
    "NaN",
    "\u202e\u2066",  # bidi controls
    "\ufeff",
    "\U0001f4a9" * 10,
    "a" * 65,
    "[" * 2000,
    "{a: " * 300,
    "kind: Application\nname: x\x00\n",
    "kind: Application\nname: &a [*a]\n",
    "!!python/object/apply:os.system ['true']",
    "---\n" * 50,
]
NASTY_BYTES = [b"", b"{}", b"[]", b"null", b"0", b'"x"', b"{", b'{"a":' * 500, b"\xff\xfe", b"\x00" * 64]


def _text(known: Sequence[str], big: bool) -> st.SearchStrategy[str]:
    options: list[st.SearchStrategy[str]] = [
        st.text(max_size=40),
        st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=40),
        st.sampled_from(NASTY_TEXT),
    ]
    if big:  # one character repeated: cheap to generate, up to 300 000 characters
        options.append(
            st.builds(lambda ch, n: ch * n, st.characters(exclude_categories=("Cs",)), st.integers(1_000, 300_000))
        )
    if known:
        options.insert(0, st.sampled_from(list(known)))
    return st.one_of(options)


def _bytes(big: bool) -> st.SearchStrategy[bytes]:
    options = [st.binary(max_size=64), st.sampled_from(NASTY_BYTES)]
    if big:
        options.append(st.builds(lambda b, n: b * n, st.binary(min_size=1, max_size=4), st.integers(1_000, 200_000)))
    return st.one_of(options)


def _scalar(f: FieldDescriptor, known: Sequence[str], big: bool = False) -> st.SearchStrategy[Any]:
    if f.type == FieldDescriptor.TYPE_STRING:
        return _text(known, big)
    if f.type == FieldDescriptor.TYPE_BYTES:
        return _bytes(big)
    if f.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if f.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32 if f.type == FieldDescriptor.TYPE_FLOAT else 64)
    low, high = INT_RANGES[f.type]
    boundaries = [low, high, 0, 1, -1] if low < 0 else [low, high, 1]
    options = [st.integers(low, high), st.sampled_from(boundaries), st.integers(-3, 1_100)]
    if f.type == FieldDescriptor.TYPE_ENUM:
        options.append(st.sampled_from([v.number for v in f.enum_type.values]))
    return st.one_of([o.filter(lambda v, low=low, high=high: low <= v <= high) for o in options])


def message_strategy(
    descriptor: Descriptor, known: Sequence[str], depth: int = 0, big: bool = True
) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments for the message class: a random subset of its fields, hostile values.

    Oversized values (`big`) appear in the request and its direct sub-messages only, and never in the
    elements of a huge repeated field, so a request stays within a few megabytes.
    """
    big = big and depth <= 1
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for f in descriptor.fields:
        if f.type == FieldDescriptor.TYPE_MESSAGE:
            entry = f.message_type
            if entry.GetOptions().map_entry:
                key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
                fields[f.name] = st.dictionaries(_scalar(key, known, big), _scalar(value, known), max_size=6)
                continue
            if depth >= 3:
                continue
            element: st.SearchStrategy[Any] = message_strategy(entry, known, depth + 1, big)
            small: st.SearchStrategy[Any] = message_strategy(entry, known, depth + 1, big=False)
        else:
            element, small = _scalar(f, known, big), _scalar(f, known)
        if f.is_repeated:
            few = st.lists(element, max_size=5)
            # Many copies of one small element: cheap to generate, large on the wire.
            many = st.builds(lambda e, n: [e] * n, small, st.integers(100, 1_000))
            fields[f.name] = st.one_of(few, few, many)
        else:
            fields[f.name] = element
    return st.fixed_dictionaries({}, optional=fields)


def request_strategy(method: MethodDescriptor, known: Sequence[str]) -> st.SearchStrategy[bytes]:
    """Serialized requests for `method`; the empty request is among them."""
    cls = _message_class(method.input_type)
    return message_strategy(method.input_type, known).map(lambda kwargs: cls(**kwargs).SerializeToString())


def _message_class(descriptor: Descriptor) -> Any:
    module = delegate_pb2 if descriptor.file.name.endswith("delegate.proto") else operator_pb2
    return getattr(module, descriptor.name)


def path_of(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


@dataclass
class Outcome:
    code: grpc.StatusCode
    details: str
    gap: str | None = None
    method: str = ""
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return self.code in CLEAN or self.gap is not None


def classify(code: grpc.StatusCode, details: str) -> Outcome:
    gap = None
    if code == grpc.StatusCode.UNKNOWN:
        gap = next((name for name, pattern in KNOWN_GAPS.items() if pattern.search(details)), None)
    return Outcome(code, details, gap)


def call_raw(
    channel: grpc.Channel, method: MethodDescriptor, payload: bytes, metadata: Any, timeout: float = 15.0
) -> Outcome:
    """Send serialized bytes to `method` as is (no client-side validation) and classify the answer."""
    started = time.monotonic()
    outcome = _call_raw(channel, method, payload, metadata, timeout)
    outcome.method, outcome.seconds = method.name, time.monotonic() - started
    return outcome


def _call_raw(
    channel: grpc.Channel, method: MethodDescriptor, payload: bytes, metadata: Any, timeout: float
) -> Outcome:
    try:
        if method.server_streaming:
            stream = channel.unary_stream(path_of(method), request_serializer=None, response_deserializer=None)
            for _ in stream(payload, metadata=metadata, timeout=timeout):
                pass
        else:
            unary = channel.unary_unary(path_of(method), request_serializer=None, response_deserializer=None)
            unary(payload, metadata=metadata, timeout=timeout)
    except grpc.RpcError as exc:
        return classify(exc.code(), exc.details() or "")
    return Outcome(grpc.StatusCode.OK, "")


@dataclass
class Tally:
    """What a property test saw: examples, status codes, known gaps hit."""

    examples: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    gaps: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, outcome: Outcome) -> None:
        self.examples += 1
        self.seconds[outcome.method] = self.seconds.get(outcome.method, 0.0) + outcome.seconds
        self.codes[outcome.code.name] = self.codes.get(outcome.code.name, 0) + 1
        if outcome.gap:
            self.gaps[outcome.gap] = self.gaps.get(outcome.gap, 0) + 1

    def summary(self) -> str:
        codes = ", ".join(f"{k} {v}" for k, v in sorted(self.codes.items()))
        gaps = ", ".join(f"{k} {v}" for k, v in sorted(self.gaps.items())) or "none"
        slowest = sorted(self.seconds.items(), key=lambda kv: -kv[1])[:3]
        slow = ", ".join(f"{k} {v:.1f}s" for k, v in slowest if k)
        return f"{self.examples} examples ({codes}); known gaps hit: {gaps}; slowest: {slow}"
