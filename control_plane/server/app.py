"""Builds the control plane process: store, services, sweeper, HTTP endpoints; runs until stopped.

`build_server` is the one factory that wires collaborators (STYLE.md §4); tests call it with a
port-0 address and a temporary database and talk to the result over real loopback sockets.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from control_plane.config_store import load_config
from control_plane.executions.orchestrator import Orchestrator
from control_plane.server.context import ServerContext
from control_plane.server.delegate_service import DelegateService
from control_plane.server.http_endpoints import HttpEndpoints
from control_plane.server.metrics import Metrics
from control_plane.server.operator_service import OperatorService
from control_plane.server.rpc_metrics import RpcMetricsInterceptor
from control_plane.server.settings import ServerSettings
from control_plane.server.sweeper import Sweeper
from control_plane.store import Store, open_store
from control_plane.triggers import install as install_triggers
from shared.clock import now_ms
from shared.pb.outrider.v1 import delegate_pb2, delegate_pb2_grpc, operator_pb2, operator_pb2_grpc

log = structlog.get_logger("server")

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
SERVICE_NAMES = (
    delegate_pb2.DESCRIPTOR.services_by_name["DelegateService"].full_name,
    operator_pb2.DESCRIPTOR.services_by_name["OperatorService"].full_name,
)


@dataclass
class RunningServer:
    ctx: ServerContext
    grpc_server: grpc.aio.Server
    port: int
    sweeper: Sweeper
    http: HttpEndpoints | None
    health: health.aio.HealthServicer
    extras: list[Any] = field(default_factory=list)

    @property
    def address(self) -> str:
        host = self.ctx.settings.listen.rpartition(":")[0] or "127.0.0.1"
        return f"{host}:{self.port}"

    async def stop(self, grace: float = 2.0) -> None:
        for extra in self.extras:
            await extra.stop()
        self.sweeper.stop()
        await self.health.enter_graceful_shutdown()
        await self.grpc_server.stop(grace)
        if self.http is not None:
            self.http.stop()
        self.ctx.executor.shutdown(wait=True)
        self.ctx.store.close()


def _server_credentials(settings: ServerSettings) -> grpc.ServerCredentials | None:
    if settings.insecure:
        return None
    if settings.tls_cert is None or settings.tls_key is None:
        raise ValueError("TLS needs --tls-cert and --tls-key (or --insecure for plaintext on a trusted network)")
    from shared.tls import server_credentials

    return server_credentials(settings.tls_cert, settings.tls_key, settings.client_ca)


def _signer(settings: ServerSettings) -> Any:
    if settings.signing_key is None:
        return None
    from control_plane.server.task_signing import ServerTaskSigner

    return ServerTaskSigner.from_file(settings.signing_key)


async def build_server(settings: ServerSettings, *, store: Store | None = None) -> RunningServer:
    credentials = _server_credentials(settings)
    store = store or open_store(settings.db_url)
    await asyncio.to_thread(store.migrate)
    # Delegates could not renew leases while no control plane ran; give them one lease period to
    # reconnect before any of their tasks is handed to someone else.
    extended = await asyncio.to_thread(store.extend_leases, now_ms() + settings.lease_ms)
    metrics = Metrics()
    ctx = ServerContext(settings=settings, store=store, metrics=metrics, signer=_signer(settings))
    server = grpc.aio.server(
        interceptors=[RpcMetricsInterceptor(metrics)],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ("grpc.max_concurrent_streams", 10_000),
            # A fleet reconnecting after a restart sends thousands of polls at once; the default pending
            # queue cancels most of them (measured: 4,100 of 5,000), which only costs retries and time.
            ("grpc.server.max_pending_requests", 20_000),
            ("grpc.server.max_pending_requests_hard_limit", 40_000),
        ],
    )
    # The generated registration functions carry no annotations (grpc_tools emits none).
    delegate_pb2_grpc.add_DelegateServiceServicer_to_server(DelegateService(ctx), server)  # type: ignore[no-untyped-call]
    orchestrator = Orchestrator(ctx, lambda: load_config(store))
    ctx.task_listeners.append(orchestrator.on_task_ended)
    loop = asyncio.get_running_loop()

    # Other replicas' tasks wake our pollers at once (PostgreSQL NOTIFY); SQLite has no other replicas.
    def queued_elsewhere(task_type: str, selectors: frozenset[str]) -> None:
        loop.call_soon_threadsafe(ctx.dispatcher.notify, selectors, task_type)

    store.listen_for_tasks(queued_elsewhere)
    sweeper = Sweeper(ctx)
    triggers = install_triggers(ctx, orchestrator, sweeper.scheduler)  # listens after the orchestrator
    operator = OperatorService(ctx, orchestrator)
    operator.triggers = triggers
    operator_pb2_grpc.add_OperatorServiceServicer_to_server(operator, server)  # type: ignore[no-untyped-call]
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    port = (
        server.add_secure_port(settings.listen, credentials)
        if credentials
        else server.add_insecure_port(settings.listen)
    )
    if port == 0:
        raise OSError(f"--listen: cannot bind {settings.listen}")
    await server.start()
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    sweeper.start()
    # Executions left open by a previous run (or another replica) are picked up again, and checked
    # every few seconds so that no missed event can leave one stuck.
    sweeper.scheduler.add_job(
        orchestrator.reconcile, "interval", seconds=2, id="reconcile", max_instances=1, coalesce=True
    )
    await orchestrator.reconcile()
    http = None
    if settings.http_listen:

        def ready() -> bool:
            store.ping()
            return True

        http = HttpEndpoints(settings.http_listen, ctx.metrics.registry, ready)
        http.start()
    log.info(
        "control plane serving",
        grpc=f"{settings.listen.rpartition(':')[0]}:{port}",
        tls=credentials is not None,
        mtls=settings.client_ca is not None,
        db=store.dialect,
        http=settings.http_listen,
        leases_extended=extended,
    )
    return RunningServer(ctx, server, port, sweeper, http, health_servicer, extras=[triggers])


async def serve_forever(settings: ServerSettings, stop: asyncio.Event) -> None:
    running = await build_server(settings)
    if settings.port_file is not None:
        tmp = settings.port_file.with_name(settings.port_file.name + ".tmp")
        tmp.write_text(f"{running.port}\n")
        tmp.replace(settings.port_file)
    try:
        await stop.wait()
    finally:
        log.info("control plane stopping")
        await running.stop()
