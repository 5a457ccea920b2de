#!/bin/sh
# Entrypoint of the delegate image: turns container-style configuration into flags, then execs
# `outrider-delegate run "$@"`, so the delegate is the process that receives SIGTERM.
#
# - OUTRIDER_DELEGATE_NAME unset: ${OUTRIDER_DELEGATE_NAME_PREFIX:-delegate}-<ECS task id> on ECS
#   (from the task metadata endpoint), else -<hostname>: every replica gets its own name.
# - OUTRIDER_DELEGATE_TOKEN and OUTRIDER_{CA_CERT,CLIENT_CERT,CLIENT_KEY}_PEM (injected from a
#   secret store) are written to 0600 files under $TMPDIR and removed from the environment, so
#   processes the delegate starts for tasks do not inherit them.
# - OUTRIDER_MAX_TASKS, OUTRIDER_GRACE_SECONDS, OUTRIDER_SPOOL_DIR become flags.
# Arguments are appended: `docker run IMAGE --insecure` works, and a flag given again wins.
set -eu

if [ -z "${OUTRIDER_DELEGATE_NAME:-}" ]; then
    suffix=$(python - <<'PY'
import json, os, socket, urllib.request
uri = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
try:
    with urllib.request.urlopen(f"{uri}/task", timeout=2) as resp:  # noqa: S310 - link-local metadata
        print(json.load(resp)["TaskARN"].rsplit("/", 1)[-1])
except Exception:
    print(socket.gethostname())
PY
    )
    OUTRIDER_DELEGATE_NAME="${OUTRIDER_DELEGATE_NAME_PREFIX:-delegate}-${suffix}"
    export OUTRIDER_DELEGATE_NAME
fi

secret_dir=$(umask 077 && mktemp -d "${TMPDIR:-/tmp}/outrider.XXXXXX")
write_secret() { (umask 077 && printf '%s\n' "$1" >"$secret_dir/$2"); }

if [ -n "${OUTRIDER_DELEGATE_TOKEN:-}" ]; then
    write_secret "$OUTRIDER_DELEGATE_TOKEN" token
    unset OUTRIDER_DELEGATE_TOKEN
    set -- --token-file "$secret_dir/token" "$@"
fi
if [ -n "${OUTRIDER_CA_CERT_PEM:-}" ]; then
    write_secret "$OUTRIDER_CA_CERT_PEM" ca.pem
    unset OUTRIDER_CA_CERT_PEM
    set -- --ca-cert "$secret_dir/ca.pem" "$@"
fi
if [ -n "${OUTRIDER_CLIENT_CERT_PEM:-}" ] && [ -n "${OUTRIDER_CLIENT_KEY_PEM:-}" ]; then
    write_secret "$OUTRIDER_CLIENT_CERT_PEM" client.pem
    write_secret "$OUTRIDER_CLIENT_KEY_PEM" client.key
    unset OUTRIDER_CLIENT_CERT_PEM OUTRIDER_CLIENT_KEY_PEM
    set -- --client-cert "$secret_dir/client.pem" --client-key "$secret_dir/client.key" "$@"
fi
if [ -n "${OUTRIDER_MAX_TASKS:-}" ]; then set -- --max-tasks "$OUTRIDER_MAX_TASKS" "$@"; fi
if [ -n "${OUTRIDER_GRACE_SECONDS:-}" ]; then set -- --grace-seconds "$OUTRIDER_GRACE_SECONDS" "$@"; fi
if [ -n "${OUTRIDER_SPOOL_DIR:-}" ]; then set -- --spool-dir "$OUTRIDER_SPOOL_DIR" "$@"; fi

exec outrider-delegate run "$@"
