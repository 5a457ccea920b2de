"""Secrets handed to users (delegate tokens, API keys): generated, shown once, stored hashed.

They are 32 random bytes, so an unsalted SHA-256 is enough: there is nothing to brute-force
(no dictionary word or password), and a constant-time lookup by hash keeps auth fast.
"""

from __future__ import annotations

import hashlib
import secrets

from shared.auth_metadata import API_KEY_PREFIX, DELEGATE_TOKEN_PREFIX


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_delegate_token() -> str:
    return DELEGATE_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)
