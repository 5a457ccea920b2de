"""Baseline (a): raw grpc.aio unary round trip on loopback.

The server is the stock grpc health servicer (a trivial handler) in its own process, like the
control plane; the clients run in the bench process, like the operator and in-bench delegate of the
other benchmarks. `python -m bench.raw_grpc PORT_FILE` is the server side. It stays up for the whole
run: the baseline is measured in full once, and again briefly right before each benchmark, so a
ratio compares two figures taken under the same load on a shared machine.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from bench.procs import wait_for_port_file
from bench.stats import Latency

WARMUP_CALLS = 300


@dataclass(frozen=True)
class RawResult:
    latency: Latency
    """Sequential round trips, one caller."""
    rps: float
    """Completed calls per second with `concurrency` callers spread over `channels` channels."""
    concurrency: int
    channels: int


@contextmanager
def raw_server(workdir: Path) -> Iterator[str]:
    """Runs the trivial server in a child process; yields its address."""
    port_file = workdir / "raw.port"
    log = open(workdir / "raw-server.log", "wb")  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen([sys.executable, "-m", "bench.raw_grpc", str(port_file)], stdout=log, stderr=log)
    try:
        port = wait_for_port_file(port_file, proc, "raw grpc server")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


class RawProbe:
    """Clients of the raw server, kept open so the baseline can be measured again next to each benchmark."""

    def __init__(self, address: str, channels: int) -> None:
        self._chans = [grpc.aio.insecure_channel(address) for _ in range(channels)]
        self._stubs = [health_pb2_grpc.HealthStub(c) for c in self._chans]
        self._request = health_pb2.HealthCheckRequest()

    async def close(self) -> None:
        for chan in self._chans:
            await chan.close()

    async def measure(self, *, latency_calls: int, seconds: float, concurrency: int) -> RawResult:
        stubs, request = self._stubs, self._request
        for stub in stubs:
            for _ in range(WARMUP_CALLS // len(stubs)):
                await stub.Check(request, timeout=10)
        samples = []
        for _ in range(latency_calls):
            started = time.perf_counter()
            await stubs[0].Check(request, timeout=10)
            samples.append(time.perf_counter() - started)

        done = 0
        deadline = time.perf_counter() + seconds

        async def caller(stub: health_pb2_grpc.HealthStub) -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await stub.Check(request, timeout=10)
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(caller(stubs[i % len(stubs)]) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
        return RawResult(Latency.of(samples), done / elapsed, concurrency, len(stubs))


async def _serve(port_file: Path) -> None:
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    tmp = port_file.with_name(port_file.name + ".tmp")
    tmp.write_text(str(port))
    os.replace(tmp, port_file)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(_serve(Path(sys.argv[1])))
