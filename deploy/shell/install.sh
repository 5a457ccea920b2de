#!/usr/bin/env bash
# Install, reconfigure or upgrade an Outrider delegate on a Linux host (deploy/README.md).
#
# Layout under PREFIX (default /opt/outrider-delegate):
#   venvs/<stamp>/       one virtualenv per install; `venv` is a symlink to the current one, so an
#   venv -> venvs/...    upgrade builds the new one beside the running delegate and switches atomically
#   delegate.env         configuration (KEY='value' lines); keys you add by hand are kept on re-runs
#   delegate.token       the delegate token, mode 0600
#   tls/                 copies of --ca-cert, --client-cert, --client-key, --task-signing-key
#   spool/               the delegate's durable spool (never touched by install.sh after creation)
#   logs/delegate.log    output of start.sh (systemd installs log to the journal)
#   run/delegate.pid     written by run.sh
#   run.sh               runs the delegate in the foreground (systemd's ExecStart)
#   start.sh stop.sh status.sh, lib/common.sh
#
# Order: parse flags -> merge with an existing delegate.env -> check prerequisites -> (dry run stops
# here and prints the plan) -> install the package into a new venv if needed -> write config, token,
# TLS files and scripts (each written to a temporary file and renamed) -> switch `venv` -> restart
# a running delegate when upgrading.
#
# Exit codes: 0 done; 1 the install failed; 2 invalid usage; 3 cannot reach the control plane;
# 4 a prerequisite is missing (Python, venv, permissions).
set -euo pipefail

readonly SCRIPT_VERSION="1"
readonly MIN_PY_MAJOR=3 MIN_PY_MINOR=11
readonly MIN_OPEN_FILES=4096
readonly PACKAGE="outrider"

# --- output ---------------------------------------------------------------------------------------
say() { printf '%s\n' "$*" >&2; }
info() { say "==> $*"; }
warn() { say "WARNING: $*"; }
die() {
    local code=$1
    shift
    say "ERROR: $*"
    exit "$code"
}
usage_error() { die 2 "$* (see --help)"; }
((BASH_VERSINFO[0] > 4 || BASH_VERSINFO[0] == 4 && BASH_VERSINFO[1] >= 4)) || die 4 "bash 4.4 or newer is required (found $BASH_VERSION)"

usage() {
    cat <<'EOF'
Usage: install.sh [OPTIONS]

Install an Outrider delegate into PREFIX, write its configuration and start/stop/status scripts.
Running it again is safe: it keeps the installed package, the token and the spool, and updates the
configuration with the options given (others keep their current value).

Connection:
  --control-plane HOST:PORT   control plane gRPC address (required for a new install)
  --token-file FILE           file holding the delegate token; copied to PREFIX/delegate.token (0600)
  --name NAME                 unique delegate name (default: this host's name)
  --selector S                selector this delegate offers; repeatable (replaces the current list)
  --max-tasks N               tasks run at once (default 4)
  --grace-seconds S           on stop, how long in-flight tasks may finish (default 30)
  --insecure                  plaintext gRPC (trusted networks only)
  --tls                       TLS, verified against the system roots (the default; undoes --insecure on a re-run)
  --ca-cert FILE              CA bundle that signed the control plane's certificate (default: system roots)
  --client-cert FILE --client-key FILE   client certificate for mTLS
  --task-signing-key FILE     pinned public key; only tasks signed by it run
  --require-signed-tasks      refuse unsigned tasks
  --secrets-dir DIR           directory of files named after secrets
  --env KEY=VALUE             extra environment for the delegate (AWS_REGION, HTTPS_PROXY...); repeatable
  --log-level LEVEL           delegate log level (default info)

Installation:
  --prefix DIR                where to install (default /opt/outrider-delegate)
  --python PATH               Python >= 3.11 to build the venv with (default: first of python3,
                              python3.13, python3.12, python3.11 on PATH that is new enough)
  --wheel FILE                install from this wheel instead of the package index
  --package-version V         install outrider==V from the package index
  --pip-args "ARGS"           extra pip arguments, split on spaces (e.g. "--no-index --find-links /srv/wheels"
                              for hosts without internet access, or "--index-url https://mirror/simple")
  --upgrade                   reinstall the package into a new venv, keep config, token and spool; a running
                              delegate is stopped gracefully and started again on the new version
  --user USER                 run the delegate as USER (needs root; owns spool, logs and token)
  --systemd                   write a systemd unit (and enable it when systemd is running)
  --systemd-unit NAME         unit name (default outrider-delegate)
  --systemd-dir DIR           where to write the unit (default /etc/systemd/system)
  --skip-connectivity-check   do not fail when the control plane cannot be reached now
  --dry-run                   check prerequisites and print what would be done; change nothing
  -h, --help                  show this help

Exit codes: 0 done, 1 install failed, 2 invalid usage, 3 control plane unreachable, 4 missing prerequisite.
EOF
}

# --- options --------------------------------------------------------------------------------------
PREFIX=/opt/outrider-delegate
PYTHON=""
WHEEL=""
PACKAGE_VERSION=""
PIP_ARGS=""
UPGRADE=0
DRY_RUN=0
SYSTEMD=0
SYSTEMD_UNIT=outrider-delegate
SYSTEMD_DIR=/etc/systemd/system
SKIP_CONNECT=0
TOKEN_FILE=""
CA_CERT=""
CLIENT_CERT=""
CLIENT_KEY=""
SIGNING_KEY=""
declare -A SET=()      # configuration keys given on this command line
declare -a SELECTORS=()
declare -a EXTRA_ENV=()

need_arg() { [[ $# -ge 2 && -n $2 ]] || usage_error "$1 needs a value"; }

while [[ $# -gt 0 ]]; do
    case $1 in
    --prefix) need_arg "$@"; PREFIX=$2; shift 2 ;;
    --control-plane) need_arg "$@"; SET[OUTRIDER_CONTROL_PLANE]=$2; shift 2 ;;
    --token-file) need_arg "$@"; TOKEN_FILE=$2; shift 2 ;;
    --name) need_arg "$@"; SET[OUTRIDER_DELEGATE_NAME]=$2; shift 2 ;;
    --selector) need_arg "$@"; SELECTORS+=("$2"); shift 2 ;;
    --max-tasks) need_arg "$@"; SET[OUTRIDER_MAX_TASKS]=$2; shift 2 ;;
    --grace-seconds) need_arg "$@"; SET[OUTRIDER_GRACE_SECONDS]=$2; shift 2 ;;
    --insecure) SET[OUTRIDER_TLS]=insecure; shift ;;
    --tls) SET[OUTRIDER_TLS]=tls; shift ;;
    --ca-cert) need_arg "$@"; CA_CERT=$2; shift 2 ;;
    --client-cert) need_arg "$@"; CLIENT_CERT=$2; shift 2 ;;
    --client-key) need_arg "$@"; CLIENT_KEY=$2; shift 2 ;;
    --task-signing-key) need_arg "$@"; SIGNING_KEY=$2; shift 2 ;;
    --require-signed-tasks) SET[OUTRIDER_REQUIRE_SIGNED_TASKS]=1; shift ;;
    --secrets-dir) need_arg "$@"; SET[OUTRIDER_SECRETS_DIR]=$2; shift 2 ;;
    --env) need_arg "$@"; EXTRA_ENV+=("$2"); shift 2 ;;
    --log-level) need_arg "$@"; SET[OUTRIDER_LOG_LEVEL]=$2; shift 2 ;;
    --python) need_arg "$@"; PYTHON=$2; shift 2 ;;
    --wheel) need_arg "$@"; WHEEL=$2; shift 2 ;;
    --package-version) need_arg "$@"; PACKAGE_VERSION=$2; shift 2 ;;
    --pip-args) [[ $# -ge 2 ]] || usage_error "--pip-args needs a value"; PIP_ARGS=$2; shift 2 ;;
    --upgrade) UPGRADE=1; shift ;;
    --user) need_arg "$@"; SET[OUTRIDER_RUN_AS]=$2; shift 2 ;;
    --systemd) SYSTEMD=1; shift ;;
    --systemd-unit) need_arg "$@"; SYSTEMD_UNIT=$2; shift 2 ;;
    --systemd-dir) need_arg "$@"; SYSTEMD_DIR=$2; shift 2 ;;
    --skip-connectivity-check) SKIP_CONNECT=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option: $1" ;;
    esac
done

abspath() {
    # The directory must exist; the file need not.
    local dir base
    dir=$(dirname -- "$1")
    base=$(basename -- "$1")
    dir=$(cd -- "$dir" 2>/dev/null && pwd -P) || return 1
    printf '%s/%s\n' "${dir%/}" "$base"
}

[[ $PREFIX == /* ]] || PREFIX="$(pwd -P)/$PREFIX"
PREFIX=${PREFIX%/}
[[ -n $PREFIX && $PREFIX != / ]] || usage_error "--prefix must not be /"
ENV_FILE=$PREFIX/delegate.env
TOKEN_DEST=$PREFIX/delegate.token

[[ -z $WHEEL || -z $PACKAGE_VERSION ]] || usage_error "--wheel and --package-version exclude each other"
if [[ -n $WHEEL ]]; then
    [[ -f $WHEEL ]] || usage_error "--wheel: no such file: $WHEEL"
    [[ $WHEEL == *.whl ]] || usage_error "--wheel: not a wheel (*.whl): $WHEEL"
    WHEEL=$(abspath "$WHEEL")
fi
[[ ${SET[OUTRIDER_TLS]:-} != insecure || -z $CA_CERT ]] || usage_error "--insecure and --ca-cert exclude each other"
[[ ${SET[OUTRIDER_TLS]:-} != tls || -z $CA_CERT ]] || usage_error "--tls uses the system roots; with --ca-cert, leave --tls out"
[[ -n $CLIENT_CERT && -n $CLIENT_KEY || -z $CLIENT_CERT && -z $CLIENT_KEY ]] ||
    usage_error "--client-cert and --client-key go together"
[[ ${SET[OUTRIDER_TLS]:-} != insecure || -z $CLIENT_CERT ]] || usage_error "--insecure and --client-cert exclude each other"
for f in "$TOKEN_FILE" "$CA_CERT" "$CLIENT_CERT" "$CLIENT_KEY" "$SIGNING_KEY"; do
    [[ -z $f || -r $f ]] || usage_error "cannot read $f"
done

# --- configuration: defaults < existing delegate.env < this command line --------------------------
declare -A CONF=()
declare -a CONF_ORDER=(
    OUTRIDER_CONTROL_PLANE OUTRIDER_DELEGATE_NAME OUTRIDER_SELECTORS OUTRIDER_INSTALL_KIND
    OUTRIDER_MAX_TASKS OUTRIDER_GRACE_SECONDS OUTRIDER_TLS OUTRIDER_CA_CERT OUTRIDER_CLIENT_CERT
    OUTRIDER_CLIENT_KEY OUTRIDER_TASK_SIGNING_KEY OUTRIDER_REQUIRE_SIGNED_TASKS OUTRIDER_SECRETS_DIR
    OUTRIDER_LOG_LEVEL OUTRIDER_RUN_AS OUTRIDER_SYSTEMD_UNIT
)

# Reads KEY='value' / KEY="value" / KEY=value lines into CONF (the same format systemd's
# EnvironmentFile accepts); never sources the file, so nothing in it is executed.
read_env_file() {
    local line key val n=0
    while IFS= read -r line || [[ -n $line ]]; do
        n=$((n + 1))
        [[ $line =~ ^[[:space:]]*(#.*)?$ ]] && continue
        if [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
            key=${BASH_REMATCH[2]}
            val=${BASH_REMATCH[3]}
            if [[ $val =~ ^\'(.*)\'$ || $val =~ ^\"(.*)\"$ ]]; then val=${BASH_REMATCH[1]}; fi
            CONF[$key]=$val
        else
            warn "$1:$n: ignored (not KEY=VALUE)"
        fi
    done <"$1"
}

EXISTING=0
if [[ -f $ENV_FILE ]]; then
    EXISTING=1
    read_env_file "$ENV_FILE"
elif ((UPGRADE)); then
    die 2 "--upgrade: no installation at $PREFIX (missing $ENV_FILE); run without --upgrade first"
fi

: "${CONF[OUTRIDER_INSTALL_KIND]:=shell}"
: "${CONF[OUTRIDER_MAX_TASKS]:=4}"
: "${CONF[OUTRIDER_GRACE_SECONDS]:=30}"
: "${CONF[OUTRIDER_TLS]:=tls}"
: "${CONF[OUTRIDER_LOG_LEVEL]:=info}"
: "${CONF[OUTRIDER_REQUIRE_SIGNED_TASKS]:=0}"
: "${CONF[OUTRIDER_DELEGATE_NAME]:=$(uname -n)}"
for key in "${!SET[@]}"; do CONF[$key]=${SET[$key]}; done
CONF[OUTRIDER_INSTALL_KIND]=shell # this install's kind, whatever the file said
if ((${#SELECTORS[@]})); then
    joined=$(IFS=,; printf '%s' "${SELECTORS[*]}")
    CONF[OUTRIDER_SELECTORS]=$joined
fi
# A TLS option given now replaces the whole TLS group.
if [[ -n $CA_CERT || -n $CLIENT_CERT ]]; then CONF[OUTRIDER_TLS]=tls; fi
if [[ -n ${SET[OUTRIDER_TLS]:-} ]]; then
    CONF[OUTRIDER_CA_CERT]=""
    CONF[OUTRIDER_CLIENT_CERT]=""
    CONF[OUTRIDER_CLIENT_KEY]=""
fi
[[ -z $CA_CERT ]] || CONF[OUTRIDER_CA_CERT]=$PREFIX/tls/ca.pem
[[ -z $CLIENT_CERT ]] || CONF[OUTRIDER_CLIENT_CERT]=$PREFIX/tls/client.pem
[[ -z $CLIENT_KEY ]] || CONF[OUTRIDER_CLIENT_KEY]=$PREFIX/tls/client.key
[[ -z $SIGNING_KEY ]] || CONF[OUTRIDER_TASK_SIGNING_KEY]=$PREFIX/tls/task-signing.pub
if ((SYSTEMD)); then CONF[OUTRIDER_SYSTEMD_UNIT]=$SYSTEMD_UNIT; fi
for kv in "${EXTRA_ENV[@]}"; do
    [[ $kv =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || usage_error "--env: expected KEY=VALUE, got: $kv"
    CONF[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
done

# --- validation -----------------------------------------------------------------------------------
cp_addr=${CONF[OUTRIDER_CONTROL_PLANE]:-}
[[ -n $cp_addr ]] || usage_error "--control-plane HOST:PORT is required for a new install"
if [[ $cp_addr =~ ^\[([0-9A-Fa-f:.]+)\]:([0-9]+)$ || $cp_addr =~ ^([A-Za-z0-9._-]+):([0-9]+)$ ]]; then
    CP_HOST=${BASH_REMATCH[1]}
    CP_PORT=${BASH_REMATCH[2]}
    ((10#$CP_PORT >= 1 && 10#$CP_PORT <= 65535)) || usage_error "--control-plane: port out of range: $cp_addr"
else
    usage_error "--control-plane: expected HOST:PORT (or [IPv6]:PORT), got: $cp_addr"
fi
[[ ${CONF[OUTRIDER_DELEGATE_NAME]} =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ ]] ||
    usage_error "--name: 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit: ${CONF[OUTRIDER_DELEGATE_NAME]}"
IFS=, read -r -a _sels <<<"${CONF[OUTRIDER_SELECTORS]:-}"
for s in "${_sels[@]}"; do
    [[ $s =~ ^[A-Za-z0-9][A-Za-z0-9._:/=-]*$ ]] || usage_error "--selector: invalid selector: '$s'"
done
max_tasks=${CONF[OUTRIDER_MAX_TASKS]}
if ! [[ $max_tasks =~ ^[0-9]{1,3}$ ]] || ((10#$max_tasks < 1 || 10#$max_tasks > 256)); then
    usage_error "--max-tasks: expected 1..256, got: $max_tasks"
fi
[[ ${CONF[OUTRIDER_GRACE_SECONDS]} =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
    usage_error "--grace-seconds: expected a number of seconds, got: ${CONF[OUTRIDER_GRACE_SECONDS]}"
[[ ${CONF[OUTRIDER_TLS]} == tls || ${CONF[OUTRIDER_TLS]} == insecure ]] ||
    usage_error "OUTRIDER_TLS in $ENV_FILE must be 'tls' or 'insecure'"
for key in "${!CONF[@]}"; do
    [[ ${CONF[$key]} != *"'"* && ${CONF[$key]} != *$'\n'* ]] || usage_error "$key: value must not contain a quote or newline"
done
if [[ -n ${CONF[OUTRIDER_RUN_AS]:-} ]]; then
    id -u "${CONF[OUTRIDER_RUN_AS]}" >/dev/null 2>&1 || usage_error "--user: no such user: ${CONF[OUTRIDER_RUN_AS]}"
    [[ $(id -u) -eq 0 ]] ||
        die 4 "this install runs the delegate as ${CONF[OUTRIDER_RUN_AS]} (--user): run install.sh as root"
fi
if [[ -z $TOKEN_FILE && ! -s $TOKEN_DEST ]]; then
    usage_error "--token-file FILE is required for a new install (create a token with: outrider token create NAME)"
fi
if [[ -n $TOKEN_FILE ]]; then
    token_lines=$(grep -c . "$TOKEN_FILE" || true)
    [[ $token_lines -eq 1 ]] || usage_error "--token-file: expected the token on one line, found $token_lines non-empty lines in $TOKEN_FILE"
fi

# --- prerequisites --------------------------------------------------------------------------------
py_version() { "$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null; }
py_ok() {
    "$1" -c "import sys; sys.exit(0 if sys.version_info >= ($MIN_PY_MAJOR, $MIN_PY_MINOR) else 1)" 2>/dev/null
}

find_python() {
    local c found=""
    if [[ -n $PYTHON ]]; then
        command -v "$PYTHON" >/dev/null 2>&1 || die 4 "--python: not found or not executable: $PYTHON"
        py_ok "$PYTHON" || die 4 "Python $MIN_PY_MAJOR.$MIN_PY_MINOR or newer is required; $PYTHON is $(py_version "$PYTHON" || echo 'not a working Python')"
        PYTHON=$(command -v "$PYTHON")
        return
    fi
    for c in python3 python3.13 python3.12 python3.11; do
        if command -v "$c" >/dev/null 2>&1; then
            [[ -n $found ]] || found="$c $(py_version "$c" || echo '?')"
            if py_ok "$c"; then
                PYTHON=$(command -v "$c")
                return
            fi
        fi
    done
    die 4 "Python $MIN_PY_MAJOR.$MIN_PY_MINOR or newer is required; found ${found:-no python3 on PATH}." \
        "Install one (e.g. 'dnf install python3.11' or 'apt-get install python3.11-venv') or pass --python PATH"
}

check_python() {
    find_python
    local v
    PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)') # not a pyenv/asdf shim
    v=$(py_version "$PYTHON")
    "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null ||
        die 4 "$PYTHON ($v) cannot create virtualenvs (no venv/ensurepip module);" \
            "on Debian/Ubuntu: apt-get install python${v%.*}-venv"
    local run_as=${CONF[OUTRIDER_RUN_AS]:-}
    if [[ -n $run_as ]] && ! runuser -u "$run_as" -- "$PYTHON" -c pass 2>/dev/null; then
        die 4 "$run_as (--user) cannot run $PYTHON (inside a private home directory?); pass --python with a system-wide Python"
    fi
    info "Python $v at $PYTHON"
}

check_open_files() {
    local soft hard
    soft=$(ulimit -Sn)
    hard=$(ulimit -Hn)
    if [[ $soft != unlimited ]] && ((soft < MIN_OPEN_FILES)); then
        if [[ $hard == unlimited ]] || ((hard >= MIN_OPEN_FILES)); then
            warn "open-files limit is $soft (< $MIN_OPEN_FILES); start.sh raises it to the hard limit ($hard), the systemd unit sets 65536"
        else
            warn "open-files limit is $soft and its hard limit $hard (< $MIN_OPEN_FILES): concurrent deployments may fail" \
                "with 'Too many open files'; raise 'nofile' in /etc/security/limits.conf or use --systemd (LimitNOFILE=65536)"
        fi
    else
        info "open-files limit $soft"
    fi
}

# TCP connect (and a TLS handshake unless --insecure) with a timeout, from Python so that the
# messages are precise (name resolution, refused, timed out, certificate) on every distribution.
check_control_plane() {
    local out rc=0
    out=$("$PYTHON" - "$CP_HOST" "$CP_PORT" "${CONF[OUTRIDER_TLS]}" "${CA_CERT:-${CONF[OUTRIDER_CA_CERT]:-}}" \
        "${CLIENT_CERT:-${CONF[OUTRIDER_CLIENT_CERT]:-}}" "${CLIENT_KEY:-${CONF[OUTRIDER_CLIENT_KEY]:-}}" <<'PY' 2>&1
import socket, ssl, sys
host, port, mode, ca, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], *sys.argv[4:7]
try:
    sock = socket.create_connection((host, port), timeout=5)
except socket.gaierror as exc:
    print(f"cannot resolve {host}: {exc.strerror}"); sys.exit(1)
except TimeoutError:
    print(f"no answer from {host}:{port} within 5 s (security group, network ACL, route or proxy?)"); sys.exit(1)
except OSError as exc:
    print(f"cannot connect to {host}:{port}: {exc.strerror or exc}"); sys.exit(1)
if mode == "insecure":
    sock.close(); print("tcp"); sys.exit(0)
try:
    ctx = ssl.create_default_context(cafile=ca or None)
    ctx.set_alpn_protocols(["h2"])
    if cert:
        ctx.load_cert_chain(cert, key)
except (ssl.SSLError, OSError) as exc:
    print(f"cannot use the CA bundle or client certificate/key: {exc}"); sys.exit(2)
try:
    with ctx.wrap_socket(sock, server_hostname=host) as tls:
        print(f"tls {tls.version()}")
except ssl.SSLCertVerificationError as exc:
    print(f"TLS certificate of {host}:{port} not trusted: {exc.verify_message}"); sys.exit(2 if ca else 3)
except (ssl.SSLError, OSError) as exc:
    hint = " (is the control plane plaintext? then pass --insecure, on a trusted network only)" \
        if "WRONG_VERSION_NUMBER" in str(exc) or "record layer" in str(exc) else ""
    print(f"TLS handshake with {host}:{port} failed: {exc}{hint}"); sys.exit(2)
PY
) || rc=$?
    case $rc in
    0) info "control plane $cp_addr reachable ($out)" ;;
    3) warn "$out; checked against this host's trust store; the delegate uses gRPC's roots (pass --ca-cert if private)" ;;
    *)
        if ((SKIP_CONNECT || UPGRADE)); then
            warn "$out"
        elif ((rc == 1)); then
            die 3 "$out. Fix the network path or pass --skip-connectivity-check to install anyway"
        else
            die 3 "$out; pass --skip-connectivity-check to install anyway"
        fi
        ;;
    esac
}

check_prefix_writable() {
    local probe=$PREFIX
    while [[ ! -e $probe ]]; do probe=$(dirname -- "$probe"); done
    [[ -w $probe ]] || die 4 "cannot write to $probe: run as root or pass --prefix DIR"
    if ((SYSTEMD)); then
        [[ -d $SYSTEMD_DIR && -w $SYSTEMD_DIR ]] || die 4 "--systemd: cannot write to $SYSTEMD_DIR (run as root or pass --systemd-dir)"
    fi
}

check_python
check_open_files
check_prefix_writable
check_control_plane

# --- plan -----------------------------------------------------------------------------------------
installed_version() {
    [[ -x $PREFIX/venv/bin/outrider-delegate ]] || return 1
    "$PREFIX/venv/bin/outrider-delegate" --version 2>/dev/null | awk '{print $NF}'
}
CURRENT_VERSION=$(installed_version || true)
INSTALL_PACKAGE=0
if ((UPGRADE)) || [[ -z $CURRENT_VERSION ]]; then INSTALL_PACKAGE=1; fi
if [[ -n $WHEEL ]]; then
    SPEC="${WHEEL}[delegate]"
elif [[ -n $PACKAGE_VERSION ]]; then
    SPEC="${PACKAGE}[delegate]==$PACKAGE_VERSION"
else
    SPEC="${PACKAGE}[delegate]"
fi
read -r -a PIP_EXTRA <<<"$PIP_ARGS"

if ((DRY_RUN)); then
    say "Dry run: nothing changed. Would:"
    if ((INSTALL_PACKAGE)); then
        say "  - create a venv with $PYTHON under $PREFIX/venvs/ and pip install ${PIP_EXTRA[*]} $SPEC"
    else
        say "  - keep the installed outrider-delegate $CURRENT_VERSION (pass --upgrade to reinstall)"
    fi
    say "  - write $ENV_FILE:"
    for key in "${CONF_ORDER[@]}"; do [[ -z ${CONF[$key]:-} ]] || say "      $key=${CONF[$key]}"; done
    [[ -z $TOKEN_FILE ]] || say "  - copy $TOKEN_FILE to $TOKEN_DEST (mode 0600)"
    say "  - write run.sh, start.sh, stop.sh, status.sh and lib/common.sh in $PREFIX"
    ((!SYSTEMD)) || say "  - write $SYSTEMD_DIR/$SYSTEMD_UNIT.service"
    exit 0
fi

# --- execute --------------------------------------------------------------------------------------
mkdir -p "$PREFIX"
# fd 9 holds the lock; every script started below gets `9>&-`, or the delegate that start.sh
# launches would inherit the lock and hold it for as long as it runs.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$PREFIX/.install.lock"
    flock -n 9 || die 1 "another install.sh is running on $PREFIX"
fi
umask 022
mkdir -p "$PREFIX/venvs" "$PREFIX/lib" "$PREFIX/logs" "$PREFIX/run" "$PREFIX/spool"
chmod 0700 "$PREFIX/spool"
chmod 0750 "$PREFIX/logs" "$PREFIX/run"

# Writes stdin to FILE through a temporary file and a rename, so a running script or a reader
# never sees half a file. MODE applies before the rename.
write_file() {
    local file=$1 mode=$2 tmp
    tmp=$(mktemp "$file.XXXXXX")
    cat >"$tmp"
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$file"
}

copy_secret() {
    local src=$1 dest=$2 mode=$3
    if [[ -e $dest && $src -ef $dest ]]; then return; fi
    write_file "$dest" "$mode" <"$src"
}

if ((INSTALL_PACKAGE)); then
    stamp=$(date -u +%Y%m%dT%H%M%SZ)-$$
    NEW_VENV=$PREFIX/venvs/$stamp
    info "creating $NEW_VENV"
    # Until `venv` points at it, a failed or interrupted run removes the half-built venv.
    trap 'rm -rf -- "$NEW_VENV"' EXIT
    "$PYTHON" -m venv "$NEW_VENV" || die 1 "could not create a virtualenv with $PYTHON"
    info "installing $SPEC"
    "$NEW_VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet \
        "${PIP_EXTRA[@]}" "$SPEC" || die 1 "pip could not install $SPEC (the current installation is unchanged)"
    NEW_VERSION=$("$NEW_VENV/bin/outrider-delegate" --version | awk '{print $NF}') ||
        die 1 "the new outrider-delegate does not start (the current installation is unchanged)"
    info "installed outrider-delegate $NEW_VERSION"
fi

# Configuration: known keys first, then anything an admin added by hand.
{
    printf '# Outrider delegate configuration, written by install.sh (v%s). Keys you add are kept on re-runs.\n' "$SCRIPT_VERSION"
    printf '# Apply changes with: %s/stop.sh && %s/start.sh\n' "$PREFIX" "$PREFIX"
    declare -A known=()
    for key in "${CONF_ORDER[@]}"; do
        known[$key]=1
        printf "%s='%s'\n" "$key" "${CONF[$key]:-}"
    done
    for key in $(printf '%s\n' "${!CONF[@]}" | sort); do
        [[ -n ${known[$key]:-} ]] || printf "%s='%s'\n" "$key" "${CONF[$key]}"
    done
} | write_file "$ENV_FILE" 0640

[[ -z $TOKEN_FILE ]] || copy_secret "$TOKEN_FILE" "$TOKEN_DEST" 0600
if [[ -n $CA_CERT || -n $CLIENT_CERT || -n $SIGNING_KEY ]]; then
    mkdir -p "$PREFIX/tls"
    chmod 0750 "$PREFIX/tls"
fi
[[ -z $CA_CERT ]] || copy_secret "$CA_CERT" "$PREFIX/tls/ca.pem" 0644
[[ -z $CLIENT_CERT ]] || copy_secret "$CLIENT_CERT" "$PREFIX/tls/client.pem" 0644
[[ -z $CLIENT_KEY ]] || copy_secret "$CLIENT_KEY" "$PREFIX/tls/client.key" 0600
[[ -z $SIGNING_KEY ]] || copy_secret "$SIGNING_KEY" "$PREFIX/tls/task-signing.pub" 0644

# --- scripts written into PREFIX (quoted heredocs: nothing below is expanded at install time) ------
write_file "$PREFIX/lib/common.sh" 0644 <<'SH'
# Shared by run.sh, start.sh, stop.sh and status.sh (written by install.sh; rewritten on re-runs).
PREFIX=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
ENV_FILE=$PREFIX/delegate.env
PID_FILE=$PREFIX/run/delegate.pid
LOG_FILE=$PREFIX/logs/delegate.log
DELEGATE_BIN=$PREFIX/venv/bin/outrider-delegate
declare -A CONF=()

read_env_file() {
    local line key val
    while IFS= read -r line || [[ -n $line ]]; do
        [[ $line =~ ^[[:space:]]*(#.*)?$ ]] && continue
        if [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
            key=${BASH_REMATCH[2]}
            val=${BASH_REMATCH[3]}
            if [[ $val =~ ^\'(.*)\'$ || $val =~ ^\"(.*)\"$ ]]; then val=${BASH_REMATCH[1]}; fi
            CONF[$key]=$val
        fi
    done <"$ENV_FILE"
}
read_env_file

# True while PID exists and is not a zombie (an exited daemon whose new parent has not reaped it).
alive() {
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    if [[ -r /proc/$1/stat ]] && stat=$(<"/proc/$1/stat"); then
        stat=${stat##*) }
        [[ ${stat%% *} != Z ]] || return 1
    fi
}

# The pid of this prefix's delegate, if it runs (a stale pid file or a reused pid does not count).
running_pid() {
    local pid cmdline
    [[ -s $PID_FILE ]] || return 1
    pid=$(<"$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    alive "$pid" || return 1
    if [[ -r /proc/$pid/cmdline ]]; then
        cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")
    else
        cmdline=$(ps -o args= -p "$pid" 2>/dev/null) || return 1
    fi
    [[ $cmdline == *"$DELEGATE_BIN"* || $cmdline == *"$PREFIX/run.sh"* ]] || return 1
    printf '%s\n' "$pid"
}

# systemd manages this install when a unit was installed and systemd is the running init.
systemd_unit() {
    local unit=${CONF[OUTRIDER_SYSTEMD_UNIT]:-}
    [[ -n $unit && -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1 || return 1
    systemctl cat "$unit.service" >/dev/null 2>&1 || return 1
    printf '%s\n' "$unit"
}
SH

write_file "$PREFIX/run.sh" 0755 <<'SH'
#!/usr/bin/env bash
# Runs the delegate in the foreground with the configuration in delegate.env (systemd's ExecStart;
# start.sh runs it in the background). The pid file holds this process, which execs the delegate.
set -euo pipefail
# shellcheck source=/dev/null
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

# Every KEY=VALUE becomes the delegate's environment (OUTRIDER_CONTROL_PLANE, _DELEGATE_NAME,
# _SELECTORS and _INSTALL_KIND are read by the delegate itself; AWS_*, proxies...).
for key in "${!CONF[@]}"; do export "$key=${CONF[$key]}"; done

args=(run --token-file "$PREFIX/delegate.token" --spool-dir "$PREFIX/spool" --install-kind shell
    --max-tasks "${CONF[OUTRIDER_MAX_TASKS]:-4}" --grace-seconds "${CONF[OUTRIDER_GRACE_SECONDS]:-30}"
    --log-level "${CONF[OUTRIDER_LOG_LEVEL]:-info}")
[[ ${CONF[OUTRIDER_TLS]:-tls} != insecure ]] || args+=(--insecure)
[[ -z ${CONF[OUTRIDER_CA_CERT]:-} ]] || args+=(--ca-cert "${CONF[OUTRIDER_CA_CERT]}")
[[ -z ${CONF[OUTRIDER_CLIENT_CERT]:-} ]] || args+=(--client-cert "${CONF[OUTRIDER_CLIENT_CERT]}")
[[ -z ${CONF[OUTRIDER_CLIENT_KEY]:-} ]] || args+=(--client-key "${CONF[OUTRIDER_CLIENT_KEY]}")
[[ -z ${CONF[OUTRIDER_TASK_SIGNING_KEY]:-} ]] || args+=(--task-signing-key "${CONF[OUTRIDER_TASK_SIGNING_KEY]}")
[[ ${CONF[OUTRIDER_REQUIRE_SIGNED_TASKS]:-0} != 1 ]] || args+=(--require-signed-tasks)
[[ -z ${CONF[OUTRIDER_SECRETS_DIR]:-} ]] || args+=(--secrets-dir "${CONF[OUTRIDER_SECRETS_DIR]}")

# Long deployments hold many sockets and files: take what the hard limit allows, up to 65536.
hard=$(ulimit -Hn)
if [[ $hard == unlimited ]] || ((hard > 65536)); then hard=65536; fi
ulimit -Sn "$hard" 2>/dev/null || true

printf '%s\n' "$$" >"$PID_FILE.tmp" && mv -f "$PID_FILE.tmp" "$PID_FILE"
exec "$DELEGATE_BIN" "${args[@]}"
SH

write_file "$PREFIX/start.sh" 0755 <<'SH'
#!/usr/bin/env bash
# Starts the delegate in the background (or through systemd when it manages this install).
# Already running: says so and exits 0. Exits 1 when the delegate dies right after starting.
set -euo pipefail
# shellcheck source=/dev/null
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"
check_seconds=${OUTRIDER_START_CHECK_SECONDS:-3}

if unit=$(systemd_unit); then
    systemctl start "$unit.service"
    echo "started $unit.service (logs: journalctl -u $unit)"
    exit 0
fi
if pid=$(running_pid); then
    echo "outrider-delegate already running (pid $pid)"
    exit 0
fi
rm -f "$PID_FILE"
launch=("$PREFIX/run.sh")
run_as=${CONF[OUTRIDER_RUN_AS]:-}
if [[ -n $run_as && $(id -un) != "$run_as" ]]; then
    [[ $(id -u) -eq 0 ]] || { echo "start.sh: run as root or as $run_as" >&2; exit 1; }
    launch=(runuser -u "$run_as" -- "$PREFIX/run.sh")
fi
# A new session, no terminal, output to the log: the delegate outlives this shell.
if command -v setsid >/dev/null 2>&1; then launch=(setsid "${launch[@]}"); fi
nohup "${launch[@]}" >>"$LOG_FILE" 2>&1 </dev/null &
launched=$!

# Wait for run.sh to record its pid, then make sure the delegate does not exit straight away
# (bad token, unreadable certificate...).
deadline=$((SECONDS + 10))
until pid=$(running_pid); do
    if ! alive "$launched" || ((SECONDS >= deadline)); then
        echo "start.sh: the delegate did not start; last lines of $LOG_FILE:" >&2
        tail -n 20 "$LOG_FILE" >&2 || true
        exit 1
    fi
    sleep 0.1
done
deadline=$((SECONDS + check_seconds))
while ((SECONDS < deadline)); do
    if ! alive "$pid"; then
        echo "start.sh: the delegate exited right after starting; last lines of $LOG_FILE:" >&2
        tail -n 20 "$LOG_FILE" >&2 || true
        exit 1
    fi
    sleep 0.2
done
echo "outrider-delegate started (pid $pid); logs: $LOG_FILE"
SH

write_file "$PREFIX/stop.sh" 0755 <<'SH'
#!/usr/bin/env bash
# Stops the delegate: SIGTERM (it stops polling, lets in-flight tasks finish for the grace period,
# flushes its spool), waits up to the grace period plus 15 s, then SIGKILL. Usage: stop.sh [SECONDS]
# Not running: says so and exits 0.
set -euo pipefail
# shellcheck source=/dev/null
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"
grace=${CONF[OUTRIDER_GRACE_SECONDS]:-30}
timeout=${1:-$((${grace%.*} + 15))}

if unit=$(systemd_unit); then
    systemctl stop "$unit.service"
    echo "stopped $unit.service"
    exit 0
fi
if ! pid=$(running_pid); then
    rm -f "$PID_FILE"
    echo "outrider-delegate is not running"
    exit 0
fi
kill -TERM "$pid"
deadline=$((SECONDS + timeout))
while alive "$pid"; do
    if ((SECONDS >= deadline)); then
        echo "stop.sh: outrider-delegate (pid $pid) did not exit within ${timeout}s; killing it" \
            "(its unfinished tasks go to another delegate when their leases lapse)" >&2
        kill -KILL "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 5))
        while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
        break
    fi
    sleep 0.1
done
if alive "$pid"; then
    echo "stop.sh: outrider-delegate (pid $pid) is still there after SIGKILL" >&2
    exit 1
fi
rm -f "$PID_FILE"
echo "outrider-delegate stopped (pid $pid)"
SH

write_file "$PREFIX/status.sh" 0755 <<'SH'
#!/usr/bin/env bash
# Prints whether the delegate runs. Exit 0 running, 3 not running (LSB status codes).
set -euo pipefail
# shellcheck source=/dev/null
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"
version=$("$DELEGATE_BIN" --version 2>/dev/null | awk '{print $NF}') || version=unknown
summary="name ${CONF[OUTRIDER_DELEGATE_NAME]:-?}, control plane ${CONF[OUTRIDER_CONTROL_PLANE]:-?}, version $version"
if unit=$(systemd_unit); then
    if systemctl is-active --quiet "$unit.service"; then
        echo "running under systemd ($unit.service); $summary; logs: journalctl -u $unit"
        exit 0
    fi
    echo "stopped ($unit.service); $summary"
    exit 3
fi
if pid=$(running_pid); then
    echo "running (pid $pid); $summary; logs: $LOG_FILE"
    exit 0
fi
echo "stopped; $summary"
exit 3
SH

# --- systemd --------------------------------------------------------------------------------------
SYSTEMD_ACTIVE=0
unit_loaded=0
if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then SYSTEMD_ACTIVE=1; fi
if ((SYSTEMD)); then
    grace=${CONF[OUTRIDER_GRACE_SECONDS]}
    {
        echo "# Written by install.sh for $PREFIX; re-run install.sh to change it."
        echo "[Unit]"
        echo "Description=Outrider delegate ($PREFIX)"
        echo "Wants=network-online.target"
        echo "After=network-online.target"
        echo
        echo "[Service]"
        echo "Type=simple"
        echo "ExecStart=$PREFIX/run.sh"
        [[ -z ${CONF[OUTRIDER_RUN_AS]:-} ]] || echo "User=${CONF[OUTRIDER_RUN_AS]}"
        echo "Restart=on-failure"
        echo "RestartSec=5"
        echo "# SIGTERM to the delegate only; it lets tasks finish for ${grace}s and flushes its spool."
        echo "KillMode=mixed"
        echo "KillSignal=SIGTERM"
        echo "TimeoutStopSec=$((${grace%.*} + 15))"
        echo "LimitNOFILE=65536"
        echo "NoNewPrivileges=yes"
        echo
        echo "[Install]"
        echo "WantedBy=multi-user.target"
    } | write_file "$SYSTEMD_DIR/$SYSTEMD_UNIT.service" 0644
    info "wrote $SYSTEMD_DIR/$SYSTEMD_UNIT.service"
    case $SYSTEMD_DIR in
    /etc/systemd/system | /run/systemd/system | /usr/lib/systemd/system | /lib/systemd/system) unit_loaded=1 ;;
    *) unit_loaded=0 ;;
    esac
    if ((SYSTEMD_ACTIVE && unit_loaded)); then
        systemctl daemon-reload
        systemctl enable "$SYSTEMD_UNIT.service" >/dev/null
        info "enabled $SYSTEMD_UNIT.service"
    elif ((SYSTEMD_ACTIVE)); then
        warn "$SYSTEMD_DIR is not a directory systemd loads units from: not enabled;" \
            "run: systemctl link $SYSTEMD_DIR/$SYSTEMD_UNIT.service && systemctl enable --now $SYSTEMD_UNIT"
    else
        warn "systemd is not running here: the unit is written but not enabled; use $PREFIX/start.sh"
    fi
fi

# The service user owns what the delegate writes and reads its token and keys; the configuration
# and the code stay root's (readable by the user's group), so the delegate cannot change them.
if [[ -n ${CONF[OUTRIDER_RUN_AS]:-} ]]; then
    run_as=${CONF[OUTRIDER_RUN_AS]}
    chown -R "$run_as" "$PREFIX/spool" "$PREFIX/logs" "$PREFIX/run" "$TOKEN_DEST"
    chown "root:$(id -gn "$run_as")" "$ENV_FILE"
    [[ ! -d $PREFIX/tls ]] || chown -R "$run_as" "$PREFIX/tls"
fi

# --- switch to the new venv, restart when upgrading -----------------------------------------------
if ((INSTALL_PACKAGE)); then
    was_running=0
    if ((EXISTING)) && "$PREFIX/status.sh" >/dev/null 2>&1 9>&-; then was_running=1; fi
    if ((was_running)); then
        info "stopping the running delegate (it finishes in-flight tasks first)"
        "$PREFIX/stop.sh" >&2 9>&-
    fi
    previous=$(readlink "$PREFIX/venv" 2>/dev/null || true)
    ln -sfn "venvs/$stamp" "$PREFIX/venv.tmp"
    mv -Tf "$PREFIX/venv.tmp" "$PREFIX/venv"
    trap - EXIT
    # Keep the venv that was current for a rollback (ln -sfn venvs/OLD venv); remove any other.
    for d in "$PREFIX"/venvs/*/; do
        d=$(basename -- "$d")
        [[ $d == "$stamp" || venvs/$d == "$previous" ]] || rm -rf -- "${PREFIX:?}/venvs/$d"
    done
    if ((was_running)) && ! "$PREFIX/start.sh" >&2 9>&-; then
        # The new version does not come up: put the one that ran back.
        ln -sfn "$previous" "$PREFIX/venv.tmp"
        mv -Tf "$PREFIX/venv.tmp" "$PREFIX/venv"
        "$PREFIX/start.sh" >&2 9>&- || true
        die 1 "outrider-delegate $NEW_VERSION did not start (see $PREFIX/logs/delegate.log); rolled back to $CURRENT_VERSION"
    elif ((SYSTEMD && SYSTEMD_ACTIVE && unit_loaded && !EXISTING)); then
        systemctl start "$SYSTEMD_UNIT.service"
    fi
    if [[ -n $CURRENT_VERSION ]]; then
        info "upgraded outrider-delegate $CURRENT_VERSION -> $NEW_VERSION in $PREFIX"
    else
        info "installed outrider-delegate $NEW_VERSION in $PREFIX"
    fi
else
    info "outrider-delegate $CURRENT_VERSION already installed in $PREFIX (pass --upgrade to reinstall)"
    if "$PREFIX/status.sh" >/dev/null 2>&1 9>&-; then
        info "the delegate is running: apply configuration changes with $PREFIX/stop.sh && $PREFIX/start.sh"
    fi
fi
if ! "$PREFIX/status.sh" >/dev/null 2>&1 9>&-; then
    say "Start it with: $PREFIX/start.sh   (stop.sh, status.sh beside it; logs in $PREFIX/logs/)"
fi
