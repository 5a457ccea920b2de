"""Secrets on the delegate: resolve `${secrets.NAME}` locally and mask every value in logs.

Values never leave the delegate except inside the AWS call that needs them; the control plane only
ever sees names. See `resolver` for the lookup order and `masking` for what gets hidden.
"""

from delegate.secrets.masking import MASK, MIN_MASK_LENGTH, Masker
from delegate.secrets.resolver import (
    ENV_PREFIX,
    InvalidSecretName,
    SecretError,
    SecretNotFound,
    SecretResolver,
    SecretStore,
    SecretUnavailable,
    env_var_name,
    names_in,
    validate_name,
)

__all__ = [
    "ENV_PREFIX",
    "MASK",
    "MIN_MASK_LENGTH",
    "InvalidSecretName",
    "Masker",
    "SecretError",
    "SecretNotFound",
    "SecretResolver",
    "SecretStore",
    "SecretUnavailable",
    "env_var_name",
    "names_in",
    "validate_name",
]
