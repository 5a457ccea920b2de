"""How credentials travel on gRPC calls: `authorization: Bearer <secret>` metadata, both services."""

from __future__ import annotations

from collections.abc import Iterable

AUTHORIZATION = "authorization"
BEARER = "Bearer "
DELEGATE_TOKEN_PREFIX = "ordt_"  # noqa: S105 - a prefix that makes leaked tokens greppable, not a secret
API_KEY_PREFIX = "orak_"


def bearer(secret: str) -> tuple[tuple[str, str], ...]:
    return ((AUTHORIZATION, BEARER + secret),)


def extract_bearer(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    for key, value in metadata or ():
        if key.lower() == AUTHORIZATION and isinstance(value, str) and value.startswith(BEARER):
            return value[len(BEARER) :].strip() or None
    return None
