"""Counts what a Firestore client really sends: RPCs, documents read and documents written.

The count is taken by a gRPC client interceptor on the client's channel, below every GAPIC method,
so any RPC the client makes is seen (a method nobody thought of wrapping included).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import grpc

# Documents written per request, by RPC: Commit and BatchWrite carry a list of writes.
SINGLE_WRITES = {"CreateDocument", "UpdateDocument", "DeleteDocument"}
LISTED_WRITES = {"Commit", "BatchWrite"}


class FirestoreOps(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Intercepts a ``firestore.Client``'s gRPC channel and counts each RPC, document read and write."""

    def __init__(self, client: Any) -> None:
        self.counts: Counter[str] = Counter()
        transport = client._firestore_api._transport
        # The GAPIC transport makes its method stubs from this channel; rebuild them on the intercepted one.
        transport._logged_channel = grpc.intercept_channel(transport._logged_channel, self)
        transport._stubs.clear()
        transport._prep_wrapped_messages(client._client_info)

    @property
    def reads(self) -> int:
        return self.counts["reads"]

    @property
    def writes(self) -> int:
        return self.counts["writes"]

    @property
    def rpcs(self) -> int:
        return self.counts["rpcs"]

    def reset(self) -> None:
        self.counts.clear()

    def _start(self, details: grpc.ClientCallDetails, request: Any) -> str:
        name = str(details.method).rsplit("/", 1)[-1]
        self.counts["rpcs"] += 1
        self.counts[name] += 1
        if name in LISTED_WRITES:
            self.counts["writes"] += len(request.writes)
        elif name in SINGLE_WRITES:
            self.counts["writes"] += 1
        return name

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        name = self._start(details, request)
        outcome = continuation(details, request)
        if name == "GetDocument" and outcome.exception() is None:
            self.counts["reads"] += 1
        elif name == "ListDocuments" and outcome.exception() is None:
            self.counts["reads"] += len(outcome.result().documents)
        return outcome

    def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        self._start(details, request)
        return _CountedStream(continuation(details, request), self.counts)

    def intercept_stream_unary(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        self.counts["rpcs"] += 1
        return continuation(details, requests)

    def intercept_stream_stream(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        self.counts["rpcs"] += 1
        return continuation(details, requests)


class _CountedStream:
    """A streamed response (BatchGetDocuments, RunQuery, RunAggregationQuery) that counts documents read."""

    def __init__(self, call: Any, counts: Counter[str]) -> None:
        self._call = call
        self._counts = counts

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        response = next(self._call)
        # A missing document still costs a read; a query, one per document; an aggregation, one.
        if any(response_has(response, field) for field in ("found", "missing", "document", "result")):
            self._counts["reads"] += 1
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


def response_has(response: Any, field: str) -> bool:
    """Whether a protobuf response has ``field`` set (proto-plus or raw protobuf messages)."""
    try:
        return bool(response.HasField(field))
    except ValueError:  # not a field of this message
        return False
    except AttributeError:
        return bool(getattr(response, field, None))
