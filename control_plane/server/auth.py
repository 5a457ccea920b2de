"""Who is calling: delegate tokens on the delegate service, API keys with roles on the operator service.

Every call is checked against the store, so a revoked token or key is refused on its next call.
Roles: admin (everything), operator (apply/deploy/rollback/cancel within its applications, read),
viewer (read). The permission table below is the single place that says who may do what.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import grpc

from control_plane.server.context import ServerContext
from control_plane.server.hashing import hash_secret
from control_plane.store.models import ApiKeyRow, TokenRow
from shared.auth_metadata import extract_bearer

ADMIN, OPERATOR, VIEWER = "admin", "operator", "viewer"
ROLES = (ADMIN, OPERATOR, VIEWER)

# action -> roles allowed. Operator actions are further limited to the key's applications.
PERMISSIONS: dict[str, frozenset[str]] = {
    "token.create": frozenset({ADMIN}),
    "token.list": frozenset({ADMIN}),
    "token.revoke": frozenset({ADMIN}),
    "apikey.create": frozenset({ADMIN}),
    "audit.list": frozenset({ADMIN}),
    "delegates.list": frozenset({ADMIN, OPERATOR, VIEWER}),
    "task.submit": frozenset({ADMIN, OPERATOR}),
    "task.cancel": frozenset({ADMIN, OPERATOR}),
    "task.read": frozenset({ADMIN, OPERATOR, VIEWER}),
    "config.apply": frozenset({ADMIN, OPERATOR}),
    "config.apply.global": frozenset({ADMIN}),
    "config.read": frozenset({ADMIN, OPERATOR, VIEWER}),
    "execution.deploy": frozenset({ADMIN, OPERATOR}),
    "execution.rollback": frozenset({ADMIN, OPERATOR}),
    "execution.cancel": frozenset({ADMIN, OPERATOR}),
    "execution.read": frozenset({ADMIN, OPERATOR, VIEWER}),
    "trigger.change": frozenset({ADMIN, OPERATOR}),
    "trigger.read": frozenset({ADMIN, OPERATOR, VIEWER}),
    "artifact.read": frozenset({ADMIN, OPERATOR, VIEWER}),
}

# Actions that change state. A refused attempt at one of them is audited too (who tried what, when),
# so the audit log shows probing with a low-privilege key; reads and unauthenticated calls are not
# (the latter have no identity to record, and are counted in the auth_failures metric instead).
MUTATING: frozenset[str] = frozenset(
    {
        "token.create",
        "token.revoke",
        "apikey.create",
        "task.submit",
        "task.cancel",
        "config.apply",
        "config.apply.global",
        "execution.deploy",
        "execution.rollback",
        "execution.cancel",
        "trigger.change",
    }
)


@dataclass(frozen=True)
class Operator:
    name: str
    role: str
    applications: tuple[str, ...]

    def may(self, action: str, application: str | None = None) -> bool:
        if self.role not in PERMISSIONS[action]:
            return False
        if self.role == OPERATOR and application and self.applications:
            return application in self.applications
        return True


async def authenticate_delegate(ctx: ServerContext, context: grpc.aio.ServicerContext) -> TokenRow:
    secret = extract_bearer(context.invocation_metadata())
    if not secret:
        ctx.metrics.auth_failures.labels("delegate").inc()
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing delegate token")
    token = await ctx.tokens.find(hash_secret(secret or ""), ctx.clock(), ctx)
    if token is None:
        ctx.metrics.auth_failures.labels("delegate").inc()
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "delegate token unknown, revoked or expired")
    assert token is not None
    return token


async def authenticate_operator(
    ctx: ServerContext, context: grpc.aio.ServicerContext, action: str, application: str | None = None
) -> Operator:
    secret = extract_bearer(context.invocation_metadata())
    row: ApiKeyRow | None = None
    if secret:
        row = await ctx.api_keys.find(hash_secret(secret), ctx.clock(), ctx)
    if row is None:
        ctx.metrics.auth_failures.labels("operator").inc()
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "API key missing, unknown or revoked")
    assert row is not None
    who = Operator(row.name, row.role, row.applications)
    if not who.may(action, application):
        scope = f" in application {application!r}" if application else ""
        message = f"API key {who.name!r} (role {who.role}) may not {action}{scope}"
        if action in MUTATING:
            details = json.dumps({"reason": message})
            await ctx.db(ctx.store.add_audit, ctx.clock(), who.name, action, application or "", "denied", details)
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, message)
    return who
