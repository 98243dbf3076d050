#!/usr/bin/env bash
# Machine services for Chorus: PostgreSQL, Redis and the Docker engine; for the tests of many
# hosts also an OCI registry (Debian's docker-registry, CNCF Distribution) on a loopback port
# and a second Docker engine standing in for a second host.
#
#   scripts/services.sh install   apt-get install whatever is missing (root only)
#   scripts/services.sh start     start what is not answering, then print one line each
#   scripts/services.sh status    print one line each (exit 1 if any is down)
#   scripts/services.sh stop      stop what this script started (best effort)
#
# Used by `make test`, `.ci/run` and developers. Must work on a fresh Debian 12 machine where
# nothing is installed or running (CI), and on one where everything already runs.
# Progress goes to stderr; stdout carries only the "<service>: ok" lines.
#
# Environment knobs:
#   CHORUS_SERVICES_DIR   pidfiles and logs (default <repo>/var/services)
#   CHORUS_DOCKERD_FLAGS  extra dockerd flags, tried before the built-in fallbacks
#   CHORUS_TEST_REGISTRY_PORT  loopback port of the test registry (default 5001)
#   CHORUS_DOCKER_B_SOCKET     unix socket of the second engine (default /run/chorus-docker-b.sock)
set -euo pipefail

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="${CHORUS_SERVICES_DIR:-$ROOT/var/services}"

PG_HOST=127.0.0.1
PG_PORT=5432
PG_USER=chorus
PG_PASSWORD=chorus
PG_DB=chorus
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
PROBE_IMAGE=chorus/services-probe:latest
REGISTRY_HOST=127.0.0.1
REGISTRY_PORT="${CHORUS_TEST_REGISTRY_PORT:-5001}"
# The second engine's socket and exec root live under /run, not var/: a unix socket path has
# at most 107 bytes, and every checkout on the machine must find the same engine.
DOCKER_B_SOCKET="${CHORUS_DOCKER_B_SOCKET:-/run/chorus-docker-b.sock}"
DOCKER_B_EXEC_ROOT=/run/chorus-docker-b
DOCKER_B_BRIDGE=chorus-b0
DOCKER_B_BIP=172.31.254.1/24
# Engine B's task network (an environment on B names it in Environment.docker_network). Never
# Chorus's default name: both engines would claim the one host bridge interface it names.
DOCKER_B_TASK_NETWORK=chorus-b-tasks

log() { echo "services: $*" >&2; }
die() {
    echo "services: ERROR: $*" >&2
    exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# ---------------------------------------------------------------------------------- install

# Each entry: "<check> <package>". A check is a command name, or dpkg:<package> when the
# package must be installed under exactly that name (busybox-static: the dynamic `busybox`
# package also provides /bin/busybox, but the FROM-scratch image needs the static one).
REQUIREMENTS=(
    "redis-server redis-server"
    "redis-cli redis-server"
    "pg_ctlcluster postgresql"
    "pg_isready postgresql"
    "psql postgresql"
    "dockerd docker.io"
    "docker docker.io"
    "chromium chromium"
    "dpkg:busybox-static busybox-static"
    "debootstrap debootstrap"
    "git git"
    "docker-compose docker-compose"
    "bwrap bubblewrap"
    "docker-registry docker-registry"
    "htpasswd apache2-utils"
    "ip iproute2"
    "curl curl"
)

missing_packages() {
    local entry check pkg out=()
    for entry in "${REQUIREMENTS[@]}"; do
        check="${entry%% *}"
        pkg="${entry##* }"
        if [[ "$check" == dpkg:* ]]; then
            dpkg-query -W -f='${Status}' "${check#dpkg:}" 2>/dev/null | grep -q "install ok installed" && continue
        else
            have "$check" && continue
        fi
        [[ " ${out[*]:-} " == *" $pkg "* ]] || out+=("$pkg")
    done
    echo "${out[*]:-}"
}

cmd_install() {
    local missing
    missing="$(missing_packages)"
    if [[ -z "$missing" ]]; then
        log "install: everything present"
        return 0
    fi
    [[ "$(id -u)" == 0 ]] || die "install: missing packages ($missing) and not root; run: sudo $0 install"
    log "install: apt-get install $missing"
    apt-get update
    # shellcheck disable=SC2086  # word splitting of the package list is intended
    DEBIAN_FRONTEND=noninteractive apt-get install -y $missing
    missing="$(missing_packages)"
    [[ -z "$missing" ]] || die "install: still missing after apt-get: $missing"
    log "install: done"
}

# ---------------------------------------------------------------------------------- postgres

pg_answers() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1; }

pg_login_ok() {
    PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=3 psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" \
        -d "$PG_DB" -qAtc 'select 1' 2>/dev/null | grep -qx 1
}

# Superuser psql over the local socket; cd / because postgres cannot read e.g. /root.
pg_admin() { (cd / && runuser -u postgres -- psql -p "$PG_PORT" -v ON_ERROR_STOP=1 -qAt "$@"); }

# Prints "<version> <name> <status>" of the Debian cluster on $PG_PORT, creating one if needed.
pg_cluster() {
    local line ver
    line="$(pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p {print $1, $2, $4; exit}')"
    if [[ -z "$line" ]]; then
        # shellcheck disable=SC2012  # version directories are plain numbers
        ver="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n1)"
        [[ -n "$ver" ]] || die "postgres: no server under /usr/lib/postgresql; run: $0 install"
        if pg_lsclusters -h 2>/dev/null | awk '{print $1, $2}' | grep -qx "$ver main"; then
            # A main cluster exists on another port: leave it alone, add ours on $PG_PORT.
            log "postgres: creating cluster $ver chorus on port $PG_PORT"
            pg_createcluster --port "$PG_PORT" "$ver" chorus >&2
        else
            log "postgres: creating cluster $ver main on port $PG_PORT"
            pg_createcluster --port "$PG_PORT" "$ver" main >&2
        fi
        line="$(pg_lsclusters -h | awk -v p="$PG_PORT" '$3 == p {print $1, $2, $4; exit}')"
    fi
    echo "$line"
}

start_postgres() {
    # Called as `start_postgres || rc=1`, where bash ignores `set -e`: check each step.
    local cluster ver name
    if ! pg_answers; then
        if ! cluster="$(pg_cluster)" || [[ -z "$cluster" ]]; then
            echo "postgres: FAILED (no Debian cluster on port $PG_PORT and none could be created)"
            return 1
        fi
        read -r ver name _ <<<"$cluster"
        # /run may be a fresh tmpfs after a reboot.
        install -d -o postgres -g postgres -m 2775 /var/run/postgresql
        log "postgres: starting cluster $ver/$name"
        pg_ctlcluster "$ver" "$name" start >&2 || true
        echo "$ver $name" >"$VAR/postgres.started"
        for _ in $(seq 1 30); do
            pg_answers && break
            sleep 1
        done
        pg_answers || {
            echo "postgres: FAILED (not answering on $PG_HOST:$PG_PORT; see /var/log/postgresql/postgresql-$ver-$name.log)"
            return 1
        }
    fi
    # Idempotent: (re)set the password too, so a role left from another setup still logs in.
    if pg_admin -c "DO \$\$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
                CREATE ROLE $PG_USER SUPERUSER LOGIN PASSWORD '$PG_PASSWORD';
            ELSE
                ALTER ROLE $PG_USER SUPERUSER LOGIN PASSWORD '$PG_PASSWORD';
            END IF;
        END \$\$;" >/dev/null 2>&1; then
        if [[ -z "$(pg_admin -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" ]]; then
            pg_admin -c "CREATE DATABASE $PG_DB OWNER $PG_USER" >/dev/null
        fi
    else
        # Not a local Debian cluster (e.g. a container publishing 5432): only check the login.
        log "postgres: no local superuser access; checking the $PG_USER login only"
    fi
    status_postgres
}

status_postgres() {
    if pg_login_ok; then
        echo "postgres: ok"
    elif pg_answers; then
        echo "postgres: FAILED (answers on $PG_HOST:$PG_PORT but login $PG_USER/$PG_DB fails)"
        return 1
    else
        echo "postgres: FAILED (not answering on $PG_HOST:$PG_PORT)"
        return 1
    fi
}

# ---------------------------------------------------------------------------------- redis

redis_answers() {
    [[ "$(timeout 3 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
}

start_redis() {
    if ! redis_answers; then
        log "redis: starting redis-server on $REDIS_HOST:$REDIS_PORT"
        mkdir -p "$VAR/redis"
        # A throwaway broker/cache: no persistence, so no dump files and no slow restarts.
        redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" \
            --pidfile "$VAR/redis.pid" --logfile "$VAR/redis.log" --dir "$VAR/redis" \
            --save "" --appendonly no >&2
        for _ in $(seq 1 20); do
            redis_answers && break
            sleep 0.5
        done
    fi
    status_redis
}

status_redis() {
    if redis_answers; then
        echo "redis: ok"
    else
        echo "redis: FAILED (no PONG from $REDIS_HOST:$REDIS_PORT; see $VAR/redis.log)"
        return 1
    fi
}

# ---------------------------------------------------------------------------------- docker

docker_answers() { timeout 10 docker info >/dev/null 2>&1; }

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# Starts dockerd with the given flags; succeeds once `docker info` answers (60s at most).
try_dockerd() {
    local pid
    log "docker: starting dockerd ${*:-(default flags)}; log: $VAR/dockerd.log"
    echo "=== $(date -u +%FT%TZ) dockerd $*" >>"$VAR/dockerd.log"
    # setsid: the daemon must outlive this script and the caller's process group (CI steps,
    # a developer's Ctrl-C).
    setsid dockerd --pidfile "$VAR/dockerd.pid" "$@" >>"$VAR/dockerd.log" 2>&1 </dev/null &
    pid=$!
    for _ in $(seq 1 60); do
        docker_answers && return 0
        pid_alive "$pid" || break
        sleep 1
    done
    log "docker: dockerd ${*:-(default flags)} did not come up; last log lines:"
    tail -n 15 "$VAR/dockerd.log" >&2 || true
    if pid_alive "$pid"; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 20); do
            pid_alive "$pid" || break
            sleep 0.5
        done
    fi
    return 1
}

# A container must actually run, not just the API answer: a daemon whose runc, cgroups or
# network setup is broken still answers `docker info`. The probe is a FROM-scratch image
# holding the static busybox, imported from a tarball (no registry is reachable).
docker_probe() {
    local dir out
    if ! docker image inspect "$PROBE_IMAGE" >/dev/null 2>&1; then
        [[ -x /bin/busybox ]] || {
            echo "docker: FAILED (no /bin/busybox for the probe image; run: $0 install)"
            return 1
        }
        dir="$(mktemp -d)"
        mkdir -p "$dir/bin"
        cp /bin/busybox "$dir/bin/busybox"
        tar -C "$dir" -c bin | docker import -c 'CMD ["/bin/busybox", "true"]' - "$PROBE_IMAGE" >/dev/null
        rm -rf "$dir"
    fi
    # Default (bridge) network on purpose: tasks run with it, so it must work too.
    out="$(timeout 60 docker run --rm "$PROBE_IMAGE" /bin/busybox echo probe-ok 2>&1)" || true
    if [[ "$out" != probe-ok ]]; then
        echo "docker: FAILED (daemon answers but a container cannot run: ${out:-no output})"
        return 1
    fi
}

start_docker() {
    if ! docker_answers; then
        have dockerd || {
            echo "docker: FAILED (dockerd not installed; run: $0 install)"
            return 1
        }
        # Flags, most preferred first. On this sandbox (Debian 12, kernel 6.x, cgroup v1,
        # ext4 root) the defaults work: overlay2 storage, iptables bridge networking,
        # cgroupfs driver, so no flag is needed. The fallbacks are for machines where
        # iptables/nat or overlayfs are unavailable (nested containers, gVisor, old kernels):
        # vfs is slow but always works; --iptables=false keeps the daemon up without nat.
        local attempts=()
        [[ -n "${CHORUS_DOCKERD_FLAGS:-}" ]] && attempts+=("$CHORUS_DOCKERD_FLAGS")
        attempts+=(
            ""
            "--iptables=false --ip6tables=false"
            "--iptables=false --ip6tables=false --storage-driver=vfs"
        )
        local flags ok=0
        for flags in "${attempts[@]}"; do
            # shellcheck disable=SC2086  # flags are a word list
            if try_dockerd $flags; then
                ok=1
                break
            fi
        done
        [[ "$ok" == 1 ]] || {
            echo "docker: FAILED (dockerd did not start with any flag set; see $VAR/dockerd.log)"
            return 1
        }
    fi
    docker_probe || return 1
    echo "docker: ok"
}

# Chorus's task network (deployments/runtimes/docker/network.py; the bridge interface has the
# network's name): nothing a task container opens reaches the host's own ports (PostgreSQL,
# Redis, the web app, anything listening on any host address), nor the link-local metadata
# range. Replies to connections the host opens stay allowed. Rules on an interface name hold
# before the interface exists; each is added once.
TASK_BRIDGE="${CHORUS_DOCKER_NETWORK:-chorus-tasks}"
TASK_BRIDGE="${TASK_BRIDGE:0:15}"

add_rule() {
    local tool="$1" chain="$2"
    shift 2
    "$tool" -C "$chain" "$@" 2>/dev/null || "$tool" -I "$chain" "$@"
}

task_network_rules() {
    if ! have iptables; then
        log "task network: iptables missing; tasks can reach the host's ports (docs/security.md)"
        return 0
    fi
    add_rule iptables INPUT -i "$TASK_BRIDGE" -m conntrack --ctstate NEW,INVALID -j DROP ||
        log "task network: could not add the INPUT rule for $TASK_BRIDGE"
    if iptables -n -L DOCKER-USER >/dev/null 2>&1; then
        add_rule iptables DOCKER-USER -i "$TASK_BRIDGE" -d 169.254.0.0/16 -j DROP ||
            log "task network: could not add the DOCKER-USER rule for $TASK_BRIDGE"
    fi
    if have ip6tables; then
        add_rule ip6tables INPUT -i "$TASK_BRIDGE" -m conntrack --ctstate NEW,INVALID -j DROP ||
            true
    fi
}

status_docker() {
    if ! docker_answers; then
        echo "docker: FAILED (docker info does not answer)"
        return 1
    fi
    echo "docker: ok"
}

# ---------------------------------------------------------------------------------- registry

registry_answers() {
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 \
        "http://$REGISTRY_HOST:$REGISTRY_PORT/v2/" 2>/dev/null)" == 200 ]]
}

# Debian's package ships a systemd unit on :5000 with auth; ours is its own process with its
# own config and storage, no auth, deletes allowed (image clean-up uses the registry API).
start_registry() {
    if ! registry_answers; then
        have docker-registry || {
            echo "registry: FAILED (docker-registry not installed; run: $0 install)"
            return 1
        }
        mkdir -p "$VAR/registry/data"
        printf '%s\n' \
            "version: 0.1" \
            "log:" \
            "  level: warn" \
            "storage:" \
            "  filesystem:" \
            "    rootdirectory: $VAR/registry/data" \
            "  delete:" \
            "    enabled: true" \
            "http:" \
            "  addr: $REGISTRY_HOST:$REGISTRY_PORT" \
            "  secret: chorus-test-registry" >"$VAR/registry/config.yml"
        log "registry: starting docker-registry on $REGISTRY_HOST:$REGISTRY_PORT; log: $VAR/registry.log"
        setsid docker-registry serve "$VAR/registry/config.yml" >>"$VAR/registry.log" 2>&1 </dev/null &
        echo $! >"$VAR/registry.pid"
        for _ in $(seq 1 20); do
            registry_answers && break
            sleep 0.5
        done
    fi
    status_registry
}

status_registry() {
    if registry_answers; then
        echo "registry: ok"
    else
        echo "registry: FAILED (no answer from http://$REGISTRY_HOST:$REGISTRY_PORT/v2/; see $VAR/registry.log)"
        return 1
    fi
}

# ---------------------------------------------------------------------------------- docker B

docker_b() { DOCKER_HOST="unix://$DOCKER_B_SOCKET" docker "$@"; }

docker_b_answers() { timeout 10 env DOCKER_HOST="unix://$DOCKER_B_SOCKET" docker info >/dev/null 2>&1; }

# A second engine on this machine standing in for a second host: its own data root, exec
# root, socket, pidfile and bridge, so it shares nothing with the first (which is never
# restarted or reconfigured here). It leaves iptables alone (the first engine owns the DOCKER
# chains), so its tasks have no outbound NAT. 127.0.0.0/8 counts as an insecure registry by
# default; the flag names the test registry anyway.
start_docker_b() {
    if ! docker_b_answers; then
        have dockerd || {
            echo "docker-b: FAILED (dockerd not installed; run: $0 install)"
            return 1
        }
        # --bridge and --bip exclude each other in dockerd: the bridge is made here with the
        # address (--bip's role), and the engine takes its subnet from it.
        if ! ip link show "$DOCKER_B_BRIDGE" >/dev/null 2>&1; then
            log "docker-b: creating bridge $DOCKER_B_BRIDGE ($DOCKER_B_BIP)"
            ip link add "$DOCKER_B_BRIDGE" type bridge
            ip addr add "$DOCKER_B_BIP" dev "$DOCKER_B_BRIDGE"
        fi
        ip link set "$DOCKER_B_BRIDGE" up
        mkdir -p "$VAR/docker-b" "$DOCKER_B_EXEC_ROOT"
        rm -f "$DOCKER_B_SOCKET"
        log "docker-b: starting a second dockerd on $DOCKER_B_SOCKET; log: $VAR/docker-b.log"
        echo "=== $(date -u +%FT%TZ) dockerd (engine B)" >>"$VAR/docker-b.log"
        setsid dockerd --data-root "$VAR/docker-b" --exec-root "$DOCKER_B_EXEC_ROOT" \
            -H "unix://$DOCKER_B_SOCKET" --pidfile "$VAR/docker-b.pid" \
            --bridge "$DOCKER_B_BRIDGE" --iptables=false --ip6tables=false --ip-masq=false \
            --insecure-registry "$REGISTRY_HOST:$REGISTRY_PORT" \
            >>"$VAR/docker-b.log" 2>&1 </dev/null &
        for _ in $(seq 1 60); do
            docker_b_answers && break
            sleep 1
        done
        docker_b_answers || {
            tail -n 15 "$VAR/docker-b.log" >&2 || true
            echo "docker-b: FAILED (the second dockerd did not answer on $DOCKER_B_SOCKET; see $VAR/docker-b.log)"
            return 1
        }
    fi
    # The probe image is copied from the first engine (never pulled): a container must run.
    if ! docker_b image inspect "$PROBE_IMAGE" >/dev/null 2>&1; then
        docker image save "$PROBE_IMAGE" | docker_b image load >/dev/null
    fi
    local out
    out="$(timeout 60 env DOCKER_HOST="unix://$DOCKER_B_SOCKET" docker run --rm "$PROBE_IMAGE" /bin/busybox echo probe-ok 2>&1)" || true
    if [[ "$out" != probe-ok ]]; then
        echo "docker-b: FAILED (the second engine answers but a container cannot run: ${out:-no output})"
        return 1
    fi
    # Its task network, isolated like Chorus's own (inter-container traffic off, no host ports).
    if ! docker_b network inspect "$DOCKER_B_TASK_NETWORK" >/dev/null 2>&1; then
        docker_b network create --driver bridge --label org.chorus.managed=true \
            -o com.docker.network.bridge.enable_icc=false \
            -o "com.docker.network.bridge.name=$DOCKER_B_TASK_NETWORK" \
            "$DOCKER_B_TASK_NETWORK" >/dev/null || {
            echo "docker-b: FAILED (could not create the task network $DOCKER_B_TASK_NETWORK)"
            return 1
        }
    fi
    if have iptables; then
        add_rule iptables INPUT -i "$DOCKER_B_TASK_NETWORK" -m conntrack --ctstate NEW,INVALID -j DROP ||
            log "docker-b: could not add the INPUT rule for $DOCKER_B_TASK_NETWORK"
    fi
    echo "docker-b: ok"
}

status_docker_b() {
    if docker_b_answers; then
        echo "docker-b: ok"
    else
        echo "docker-b: FAILED (no second engine on $DOCKER_B_SOCKET)"
        return 1
    fi
}

# ---------------------------------------------------------------------------------- commands

cmd_start() {
    mkdir -p "$VAR"
    local rc=0
    if [[ "$(id -u)" != 0 ]]; then
        # Without root nothing can be started; report what answers.
        log "start: not root; only checking"
        cmd_status
        return
    fi
    start_postgres || rc=1
    start_redis || rc=1
    start_docker || rc=1
    task_network_rules
    start_registry || rc=1
    # After the first engine: its probe image is copied to the second.
    start_docker_b || rc=1
    [[ "$rc" == 0 ]] || die "start: some services failed (see above)"
}

cmd_status() {
    local rc=0
    status_postgres || rc=1
    status_redis || rc=1
    status_docker || rc=1
    status_registry || rc=1
    status_docker_b || rc=1
    return "$rc"
}

stop_pidfile() {
    local name="$1" file="$2" pid
    [[ -f "$file" ]] || return 0
    pid="$(cat "$file" 2>/dev/null || true)"
    if pid_alive "$pid"; then
        log "stop: $name (pid $pid)"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do
            pid_alive "$pid" || break
            sleep 0.5
        done
        pid_alive "$pid" && log "stop: $name (pid $pid) still running"
    fi
    rm -f "$file"
}

cmd_stop() {
    stop_pidfile docker-b "$VAR/docker-b.pid"
    stop_pidfile registry "$VAR/registry.pid"
    stop_pidfile dockerd "$VAR/dockerd.pid"
    stop_pidfile redis "$VAR/redis.pid"
    if [[ -f "$VAR/postgres.started" ]]; then
        local ver name
        read -r ver name <"$VAR/postgres.started"
        log "stop: postgres cluster $ver/$name"
        pg_ctlcluster "$ver" "$name" stop >&2 || true
        rm -f "$VAR/postgres.started"
    fi
    return 0
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start ;;
status) cmd_status ;;
stop) cmd_stop ;;
*)
    echo "usage: $0 {install|start|status|stop}" >&2
    exit 2
    ;;
esac
