"""Wires one delegate process (STYLE.md §4): config -> channel, spool, masker, registry, runner, agent."""

from __future__ import annotations

import asyncio
import base64
import signal
from pathlib import Path
from typing import Any

import structlog

from delegate.agent import Agent
from delegate.attempt import Attempt
from delegate.config import DelegateConfig
from delegate.cp_client import ChannelSecurity, ControlPlaneClient, open_channel
from delegate.secrets import Masker
from delegate.spool import Spool
from delegate.task_runner import SignatureCheck, TaskRunner
from delegate.tasks import diagnostic
from delegate.tasks.registry import TaskRegistry

log = structlog.get_logger("delegate")


def build_registry() -> tuple[TaskRegistry, bool]:
    """Diagnostics always; the AWS task types when the delegate extra (boto3) is installed."""
    registry = TaskRegistry()
    diagnostic.register(registry)
    try:
        from delegate.tasks import deployment
    except ImportError:
        log.warning("boto3 is not installed: this delegate runs diagnostic tasks only (install outrider[delegate])")
        return registry, False
    deployment.register(registry)
    return registry, True


def _load_pinned_key(path: Path | None) -> bytes | None:
    """The control plane's public key: the base64 `.pub` file it writes beside its private key."""
    if path is None:
        return None
    from shared.signing import TaskVerifier

    TaskVerifier.from_b64(path.read_text().strip())  # validates the key early, with a clear error
    return base64.b64decode(path.read_text().strip())


def build_masker(config: DelegateConfig) -> Masker:
    masker = Masker()
    masker.add(config.token)
    return masker


def build_agent(config: DelegateConfig) -> Agent:
    channel = open_channel(
        config.control_plane,
        ChannelSecurity(config.insecure, config.ca_cert, config.client_cert, config.client_key),
    )
    client = ControlPlaneClient(channel, config.token)
    masker = build_masker(config)
    registry, has_aws = build_registry()
    shared_services: dict[str, Any] = {"config": config, "masker": masker}
    if has_aws:
        from delegate.tasks.deployment import build_services

        shared_services["deployment"] = build_services(masker, config.secrets_dir, config.aws_endpoint_url)

    def services(attempt: Attempt) -> dict[str, Any]:
        return shared_services

    runner = TaskRunner(
        registry,
        SignatureCheck(_load_pinned_key(config.task_signing_key), config.require_signed_tasks),
        services,
        checkpointer=lambda attempt: agent.checkpointer(attempt),
    )
    spool = Spool(config.spool_dir, config.spool_max_bytes)
    agent = Agent(config, client, registry, spool, masker.mask, runner)
    return agent


async def run_delegate(config: DelegateConfig) -> int:
    agent = build_agent(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, agent.request_stop)
    try:
        return await agent.run()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
