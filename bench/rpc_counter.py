"""`python -m bench.rpc_counter server ...`: `outrider server` that also counts the gRPC calls it serves.

It installs one server interceptor (by wrapping grpc.aio.server before the control plane builds
its server) and then runs the stock CLI. On SIGUSR1 it writes {method: calls started} as JSON to
$BENCH_RPC_COUNT_FILE, so the bench can count the calls of a time window. Only the calibration run
uses it; the timed runs use the stock server.

The control plane declares an `outrider_rpc_seconds` histogram that no code observes yet; with it
filled per method this module would not be needed.
"""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

COUNT_FILE_ENV = "BENCH_RPC_COUNT_FILE"
_calls: Counter[str] = Counter()


class _Counting(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        _calls[handler_call_details.method.rpartition("/")[2]] += 1
        return await continuation(handler_call_details)


def _install() -> None:
    stock = grpc.aio.server

    def server(*args: Any, **kwargs: Any) -> grpc.aio.Server:
        kwargs["interceptors"] = [*(kwargs.get("interceptors") or ()), _Counting()]
        return stock(*args, **kwargs)

    grpc.aio.server = server
    out = Path(os.environ[COUNT_FILE_ENV])

    def dump(signum: int, frame: object) -> None:
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(dict(_calls)))
        tmp.replace(out)

    signal.signal(signal.SIGUSR1, dump)


if __name__ == "__main__":
    _install()
    from control_plane.cli.main import main

    main()
