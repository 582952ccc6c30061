"""Counts what a Firestore client really sends: RPCs, documents read and documents written."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any


class FirestoreOps:
    """Wraps a ``firestore.Client``'s API methods and counts each call and document."""

    def __init__(self, client: Any) -> None:
        self.counts: Counter[str] = Counter()
        api = client._firestore_api
        for name in ("batch_get_documents", "run_query", "list_documents"):
            setattr(api, name, self._reads(name, getattr(api, name)))
        for name in ("commit", "batch_write"):
            setattr(api, name, self._writes(name, getattr(api, name)))
        for name in ("begin_transaction", "rollback"):
            setattr(api, name, self._rpc(name, getattr(api, name)))
        # An aggregation (count, sum) is billed as one document read per 1,000 index entries it scans.
        api.run_aggregation_query = self._aggregation(api.run_aggregation_query)

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

    def _rpc(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.counts["rpcs"] += 1
            self.counts[name] += 1
            return method(*args, **kwargs)

        return call

    def _aggregation(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.counts["rpcs"] += 1
            self.counts["reads"] += 1
            self.counts["run_aggregation_query"] += 1
            return method(*args, **kwargs)

        return call

    def _reads(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.counts["rpcs"] += 1
            self.counts[name] += 1
            result = method(*args, **kwargs)
            if name == "list_documents":
                return self._count_pages(result)
            return self._count_stream(result)

        return call

    def _count_stream(self, responses: Any) -> Iterator[Any]:
        for response in responses:
            # A missing document still costs a read; a query costs one per document returned.
            if (
                getattr(response, "found", None)
                or getattr(response, "missing", None)
                or getattr(response, "document", None)
            ):
                self.counts["reads"] += 1
            yield response

    def _count_pages(self, pager: Any) -> Iterator[Any]:
        for document in pager:
            self.counts["reads"] += 1
            yield document

    def _writes(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.counts["rpcs"] += 1
            self.counts[name] += 1
            request = kwargs.get("request") or (args[0] if args else {})
            writes = request["writes"] if isinstance(request, dict) else request.writes
            self.counts["writes"] += len(writes)
            return method(*args, **kwargs)

        return call
