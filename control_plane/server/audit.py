"""The audit log: one row per mutating operator call, written whatever the outcome."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from control_plane.server.context import ServerContext


class AuditEntry:
    def __init__(self) -> None:
        self.details: dict[str, Any] = {}
        self.target = ""


@asynccontextmanager
async def audited(ctx: ServerContext, actor: str, action: str, target: str = "") -> AsyncIterator[AuditEntry]:
    """Record (who, what, when, result) for the block; an exception records the failure and re-raises."""
    entry = AuditEntry()
    entry.target = target
    result = "ok"
    try:
        yield entry
    except BaseException as exc:
        # grpc aborts surface as exceptions too; their details are the user-facing message.
        result = "error: " + (str(exc) or type(exc).__name__)[:500]
        raise
    finally:
        await ctx.db(ctx.store.add_audit, ctx.clock(), actor, action, entry.target, result, json.dumps(entry.details))
