#!/usr/bin/env bash
# Installs and runs the real backing services used by the distributed-profile
# tests: MariaDB, Redis and a single-node OpenSearch; and installs the headless
# browser of the web console's tests (Chromium and its WebDriver server).
#
#   services.sh start [mariadb|redis|opensearch|browser|all]   (default: all)
#   services.sh stop  [mariadb|redis|opensearch|browser|all]   (default: all)
#   services.sh status [mariadb|redis|opensearch|browser|all]
#   services.sh env                                             prints export lines
#
# Every service binds 127.0.0.1 on a non-default port and keeps its data in a
# throwaway folder under the state dir, so it never collides with a system
# instance and `stop` leaves nothing behind. `start` is idempotent.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
STATE_DIR=${CHAT_SERVICES_DIR:-/tmp/chat-services}

MYSQL_PORT=${CHAT_SERVICES_MYSQL_PORT:-33306}
REDIS_PORT=${CHAT_SERVICES_REDIS_PORT:-36379}
OPENSEARCH_HTTP_PORT=${CHAT_SERVICES_OPENSEARCH_PORT:-39200}
OPENSEARCH_TRANSPORT_PORT=${CHAT_SERVICES_OPENSEARCH_TRANSPORT_PORT:-39300}

# Upper bounds for a service to answer after being launched, in seconds.
MYSQL_START_TIMEOUT=${CHAT_SERVICES_MYSQL_TIMEOUT:-60}
REDIS_START_TIMEOUT=${CHAT_SERVICES_REDIS_TIMEOUT:-30}
OPENSEARCH_START_TIMEOUT=${CHAT_SERVICES_OPENSEARCH_TIMEOUT:-180}
STOP_TIMEOUT=30

OPENSEARCH_MODULE="$SCRIPT_DIR/opensearch"
OPENSEARCH_JAR="$OPENSEARCH_MODULE/target/opensearch-node-1.0.0.jar"
OPENSEARCH_CLASSPATH_FILE="$OPENSEARCH_MODULE/target/classpath.txt"

ALL_SERVICES=(mariadb redis opensearch browser)

log() { printf '[services] %s\n' "$*" >&2; }

die() {
    log "ERROR: $*"
    exit 1
}

# Prints the last lines of a log file to stderr, so a failed start explains itself.
show_log_tail() {
    local file=$1
    if [[ -f $file ]]; then
        log "---- last lines of $file ----"
        tail -n 40 "$file" >&2 || true
        log "---- end of $file ----"
    else
        log "(no log file at $file)"
    fi
}

# ---------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------

APT_UPDATED=0

# apt_install PACKAGE... installs the packages that are not installed yet.
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    ((${#missing[@]} == 0)) && return 0
    [[ $(id -u) == 0 ]] || die "packages missing (${missing[*]}) and not root to install them"
    log "installing ${missing[*]}"
    # A fresh machine may have empty package lists; refresh them once per run.
    if ((APT_UPDATED == 0)); then
        apt-get update -q >&2
        APT_UPDATED=1
    fi
    # Where the Debian packages start their own system instance (default
    # ports, system data dirs) it does not interfere: ours use other ports.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

# ---------------------------------------------------------------------------
# Process helpers
# ---------------------------------------------------------------------------

# pid_running PIDFILE: true while the pid file names a live process, whatever
# its name. Used right after a launch, when the child may not have exec'd the
# server binary yet and still shows the shell's name. Zombies do not count: a
# server that died after this script exited is re-parented to PID 1, which on
# some sandboxes never reaps it.
pid_running() {
    local pidfile=$1 pid stat
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    # The state is the field after the parenthesised command name.
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# pid_alive PIDFILE NAME: pid_running, and the command name is NAME (guards
# against a pid recycled by an unrelated process after a crash or reboot).
pid_alive() {
    local pidfile=$1 name=$2 comm
    pid_running "$pidfile" || return 1
    comm=$(cat "/proc/$(<"$pidfile")/comm" 2>/dev/null) || return 1
    [[ $comm == "$name"* ]]
}

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# stop_pidfile PIDFILE NAME: stops the process if it is still the NAME we
# started, then forgets the pid file.
stop_pidfile() {
    local pidfile=$1 name=$2
    if pid_alive "$pidfile" "$name"; then
        log "stopping $name (pid $(<"$pidfile"))"
        terminate_pid "$(<"$pidfile")"
    fi
    rm -f "$pidfile"
}

# terminate_pid PID: SIGTERM (graceful for all three servers), then SIGKILL if
# the process has not gone after STOP_TIMEOUT seconds.
terminate_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        [[ -d /proc/$pid ]] || break
        sleep 0.1
    done
    if [[ -d /proc/$pid ]]; then
        log "pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
}

# wait_until TIMEOUT PIDFILE LOGFILE DESCRIPTION CMD...: polls CMD once a
# second until it succeeds; fails early if the process dies. After TIMEOUT the
# process is stopped, so a failed start leaves nothing running behind.
wait_until() {
    local timeout=$1 pidfile=$2 logfile=$3 what=$4
    shift 4
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        if ! pid_running "$pidfile"; then
            show_log_tail "$logfile"
            die "$what exited before answering"
        fi
        if ((SECONDS >= deadline)); then
            show_log_tail "$logfile"
            log "stopping $what (pid $(<"$pidfile")): it did not answer in time"
            terminate_pid "$(<"$pidfile")"
            rm -f "$pidfile"
            die "$what did not answer within ${timeout}s"
        fi
        sleep 1
    done
}

# ---------------------------------------------------------------------------
# MariaDB
# ---------------------------------------------------------------------------

MYSQL_DIR="$STATE_DIR/mariadb"
MYSQL_DATA="$MYSQL_DIR/data"
MYSQL_SOCKET="$MYSQL_DIR/mysqld.sock"
MYSQL_PIDFILE="$MYSQL_DIR/mysqld.pid"
MYSQL_LOG="$MYSQL_DIR/mysqld.log"

mysql_admin_ping() {
    mariadb-admin --no-defaults --protocol=socket --socket="$MYSQL_SOCKET" -uroot ping
}

# Runs SQL as the server's root account over the private socket.
mysql_root() {
    mariadb --no-defaults --protocol=socket --socket="$MYSQL_SOCKET" -uroot -e "$1"
}

start_mariadb() {
    apt_install mariadb-server mariadb-client
    if pid_alive "$MYSQL_PIDFILE" mariadbd; then
        log "mariadb already running on 127.0.0.1:$MYSQL_PORT"
    else
        launch_mariadb
    fi
    wait_until "$MYSQL_START_TIMEOUT" "$MYSQL_PIDFILE" "$MYSQL_LOG" mariadb mysql_admin_ping
    setup_mariadb_account
    log "mariadb ready: $(mysql_url)"
}

# Initialises the data dir on first use and launches mariadbd in the background.
launch_mariadb() {
    port_open "$MYSQL_PORT" && die "127.0.0.1:$MYSQL_PORT is taken by a process this script did not start"
    mkdir -p "$MYSQL_DIR"

    local user_opt=()
    # mariadbd refuses to run as root unless told so explicitly.
    [[ $(id -u) == 0 ]] && user_opt=(--user=root)

    if [[ ! -d $MYSQL_DATA/mysql ]]; then
        log "initialising mariadb data dir $MYSQL_DATA"
        # --no-defaults: the system's /etc/mysql config (socket, bind address,
        # datadir) must not leak into the throwaway instance.
        # normal root auth: root connects over the private socket without a
        # password, whichever OS user runs this script.
        if ! mariadb-install-db --no-defaults "${user_opt[@]}" \
            --datadir="$MYSQL_DATA" \
            --auth-root-authentication-method=normal \
            --skip-name-resolve \
            --skip-test-db >"$MYSQL_DIR/install-db.log" 2>&1; then
            show_log_tail "$MYSQL_DIR/install-db.log"
            die "mariadb-install-db failed"
        fi
    fi

    log "starting mariadb on 127.0.0.1:$MYSQL_PORT"
    # setsid: the server must outlive this script and not receive signals sent
    # to the caller's process group (e.g. a test runner's timeout).
    # utf8mb4 server defaults, as on production servers; --no-defaults would
    # otherwise leave the compiled-in latin1. (Clients still pick their own
    # connection charset: the mariadb CLI needs --default-character-set=utf8mb4
    # to send emoji.)
    # innodb_flush_log_at_trx_commit=2 spares an fsync per commit: the data is
    # throwaway, and the tests do many small transactions.
    # Each instance keeps its temporary tables in its own folder: mariadbd deletes
    # every `#sql…` file of its tmpdir when it starts, so instances sharing /tmp (a
    # test's private one starting beside the shared one) would delete each other's.
    mkdir -p "$MYSQL_DIR/tmp"
    setsid mariadbd --no-defaults "${user_opt[@]}" \
        --datadir="$MYSQL_DATA" \
        --tmpdir="$MYSQL_DIR/tmp" \
        --socket="$MYSQL_SOCKET" \
        --pid-file="$MYSQL_PIDFILE" \
        --log-error="$MYSQL_LOG" \
        --bind-address=127.0.0.1 \
        --port="$MYSQL_PORT" \
        --skip-name-resolve \
        --character-set-server=utf8mb4 \
        --collation-server=utf8mb4_unicode_ci \
        --max-connections=500 \
        --innodb-flush-log-at-trx-commit=2 \
        </dev/null >>"$MYSQL_LOG" 2>&1 &
    # mariadbd writes its pid file itself, but only once it is up; record the
    # pid now so wait_until can tell a crash from a slow start.
    echo "$!" >"$MYSQL_PIDFILE"
}

# Creates the test account and database; safe to repeat on every start.
setup_mariadb_account() {
    # Tests create one database per test, named chat_<something>, so the user
    # gets every right on `chat` and on any database matching chat\_%.
    mysql_root "
        CREATE DATABASE IF NOT EXISTS chat CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
        CREATE USER IF NOT EXISTS 'chat'@'%' IDENTIFIED BY 'chat';
        CREATE USER IF NOT EXISTS 'chat'@'localhost' IDENTIFIED BY 'chat';
        GRANT ALL PRIVILEGES ON \`chat\`.* TO 'chat'@'%', 'chat'@'localhost';
        GRANT ALL PRIVILEGES ON \`chat\\_%\`.* TO 'chat'@'%', 'chat'@'localhost';
    " || die "could not create the chat user and database"
}

stop_mariadb() {
    stop_pidfile "$MYSQL_PIDFILE" mariadbd
    rm -rf "$MYSQL_DIR"
}

status_mariadb() {
    pid_alive "$MYSQL_PIDFILE" mariadbd && mysql_admin_ping >/dev/null 2>&1
}

mysql_url() { printf 'mysql://chat:chat@127.0.0.1:%s/chat' "$MYSQL_PORT"; }

# ---------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------

REDIS_DIR="$STATE_DIR/redis"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"

redis_ping() {
    [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

start_redis() {
    apt_install redis-server redis-tools
    if pid_alive "$REDIS_PIDFILE" redis-server; then
        log "redis already running on 127.0.0.1:$REDIS_PORT"
    else
        launch_redis
    fi
    wait_until "$REDIS_START_TIMEOUT" "$REDIS_PIDFILE" "$REDIS_LOG" redis redis_ping
    log "redis ready: $(redis_url)"
}

launch_redis() {
    port_open "$REDIS_PORT" && die "127.0.0.1:$REDIS_PORT is taken by a process this script did not start"
    mkdir -p "$REDIS_DIR"
    rm -f "$REDIS_PIDFILE"

    log "starting redis on 127.0.0.1:$REDIS_PORT"
    # No config file: everything is on the command line so the system's
    # /etc/redis/redis.conf never applies. appendonly/everysec is the
    # durability the chat server expects of its Redis.
    if ! redis-server \
        --bind 127.0.0.1 \
        --port "$REDIS_PORT" \
        --dir "$REDIS_DIR" \
        --appendonly yes \
        --appendfsync everysec \
        --daemonize yes \
        --pidfile "$REDIS_PIDFILE" \
        --logfile "$REDIS_LOG" </dev/null; then
        show_log_tail "$REDIS_LOG"
        die "redis-server failed to launch"
    fi
    # With --daemonize the pid file appears a moment after the parent exits.
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s $REDIS_PIDFILE ]] && break
        sleep 0.1
    done
}

stop_redis() {
    stop_pidfile "$REDIS_PIDFILE" redis-server
    rm -rf "$REDIS_DIR"
}

status_redis() {
    pid_alive "$REDIS_PIDFILE" redis-server && redis_ping
}

redis_url() { printf 'redis://127.0.0.1:%s' "$REDIS_PORT"; }

# ---------------------------------------------------------------------------
# OpenSearch (embedded node built from opensearch/, see its pom.xml)
# ---------------------------------------------------------------------------

OPENSEARCH_DIR="$STATE_DIR/opensearch"
OPENSEARCH_PIDFILE="$OPENSEARCH_DIR/opensearch.pid"
OPENSEARCH_LOG="$OPENSEARCH_DIR/opensearch.log"

opensearch_healthy() {
    # wait_for_status=yellow: a single node never gets replicas assigned.
    curl -sf --max-time 10 \
        "http://127.0.0.1:$OPENSEARCH_HTTP_PORT/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null
}

# Builds the launcher jar and its dependency classpath once; Maven caches the
# downloaded artifacts in ~/.m2, so later builds work offline too.
build_opensearch() {
    if [[ -f $OPENSEARCH_JAR && -s $OPENSEARCH_CLASSPATH_FILE ]]; then
        return 0
    fi
    if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
        apt_install openjdk-17-jdk-headless maven
    fi
    log "building the OpenSearch launcher (first run downloads its dependencies)"
    local build_log="$OPENSEARCH_MODULE/target/build.log"
    mkdir -p "$OPENSEARCH_MODULE/target"
    if ! mvn -q -B -f "$OPENSEARCH_MODULE/pom.xml" package dependency:build-classpath \
        -Dmdep.outputFile="$OPENSEARCH_CLASSPATH_FILE" >"$build_log" 2>&1; then
        show_log_tail "$build_log"
        die "building the OpenSearch launcher failed"
    fi
}

start_opensearch() {
    if pid_alive "$OPENSEARCH_PIDFILE" java; then
        log "opensearch already running on 127.0.0.1:$OPENSEARCH_HTTP_PORT"
    else
        launch_opensearch
    fi
    wait_until "$OPENSEARCH_START_TIMEOUT" "$OPENSEARCH_PIDFILE" "$OPENSEARCH_LOG" opensearch opensearch_healthy
    log "opensearch ready: $(opensearch_url)"
}

launch_opensearch() {
    port_open "$OPENSEARCH_HTTP_PORT" && die "127.0.0.1:$OPENSEARCH_HTTP_PORT is taken by a process this script did not start"
    port_open "$OPENSEARCH_TRANSPORT_PORT" && die "127.0.0.1:$OPENSEARCH_TRANSPORT_PORT is taken by a process this script did not start"
    build_opensearch
    mkdir -p "$OPENSEARCH_DIR"

    log "starting opensearch on 127.0.0.1:$OPENSEARCH_HTTP_PORT"
    # The node makes its own throwaway home under $OPENSEARCH_DIR and removes
    # it on a graceful stop; `stop` removes the whole folder regardless.
    # A fixed 512 MiB heap keeps the node's memory small and predictable next
    # to the test processes.
    # setsid: see start_mariadb. With job control off, the background child is
    # not a group leader, so setsid execs java in place and $! is java's pid.
    setsid java -Xms512m -Xmx512m \
        -Dchat.opensearch.dir="$OPENSEARCH_DIR" \
        -cp "$OPENSEARCH_JAR:$(<"$OPENSEARCH_CLASSPATH_FILE")" \
        chat.testsupport.OpenSearchNode "$OPENSEARCH_HTTP_PORT" "$OPENSEARCH_TRANSPORT_PORT" \
        </dev/null >"$OPENSEARCH_LOG" 2>&1 &
    echo "$!" >"$OPENSEARCH_PIDFILE"
}

stop_opensearch() {
    stop_pidfile "$OPENSEARCH_PIDFILE" java
    rm -rf "$OPENSEARCH_DIR"
}

status_opensearch() {
    pid_alive "$OPENSEARCH_PIDFILE" java && opensearch_healthy
}

opensearch_url() { printf 'http://127.0.0.1:%s' "$OPENSEARCH_HTTP_PORT"; }

# ---------------------------------------------------------------------------
# Browser (Chromium and chromedriver, for the web console's tests)
# ---------------------------------------------------------------------------

# Nothing runs in the background: each test starts its own chromedriver on a
# free port, which starts its own headless Chromium. `start` only installs them.
CHROMIUM_BIN=/usr/bin/chromium
CHROMEDRIVER_BIN=/usr/bin/chromedriver

start_browser() {
    # A font of our own choosing, so screenshots look the same on every machine.
    apt_install chromium chromium-driver fonts-dejavu-core
    status_browser || die "chromium or chromedriver is not runnable after installing them"
    log "browser ready: $("$CHROMEDRIVER_BIN" --version 2>/dev/null | head -n 1)"
}

# Installed packages stay; there is no process to stop.
stop_browser() { :; }

status_browser() {
    [[ -x $CHROMIUM_BIN && -x $CHROMEDRIVER_BIN ]] && "$CHROMEDRIVER_BIN" --version >/dev/null 2>&1
}

# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

usage() {
    cat >&2 <<EOF
usage: $0 start|stop|status [mariadb|redis|opensearch|browser|all]
       $0 env
state dir: $STATE_DIR (set CHAT_SERVICES_DIR to change)
EOF
    exit 2
}

# Sets SERVICES from the service argument ("all" or missing means every one).
SERVICES=()
select_services() {
    case ${1:-all} in
        all) SERVICES=("${ALL_SERVICES[@]}") ;;
        mariadb | redis | opensearch | browser) SERVICES=("$1") ;;
        *) usage ;;
    esac
}

print_env() {
    printf 'export CHAT_TEST_MYSQL_URL=%s\n' "$(mysql_url)"
    printf 'export CHAT_TEST_REDIS_URL=%s\n' "$(redis_url)"
    printf 'export CHAT_TEST_ELASTICSEARCH_URL=%s\n' "$(opensearch_url)"
    printf 'export CHAT_TEST_CHROMEDRIVER=%s\n' "$CHROMEDRIVER_BIN"
    printf 'export CHAT_TEST_CHROMIUM=%s\n' "$CHROMIUM_BIN"
}

main() {
    local cmd=${1:-} target=${2:-all} svc rc=0
    case $cmd in
        start)
            select_services "$target"
            mkdir -p "$STATE_DIR"
            for svc in "${SERVICES[@]}"; do "start_$svc"; done
            ;;
        stop)
            select_services "$target"
            for svc in "${SERVICES[@]}"; do "stop_$svc"; done
            # The state dir goes once nothing is left in it.
            if [[ $target == all ]]; then
                rm -rf "$STATE_DIR"
            else
                rmdir "$STATE_DIR" 2>/dev/null || true
            fi
            ;;
        status)
            select_services "$target"
            for svc in "${SERVICES[@]}"; do
                if "status_$svc"; then
                    echo "$svc: running"
                else
                    echo "$svc: stopped"
                    rc=1
                fi
            done
            return "$rc"
            ;;
        env) print_env ;;
        *) usage ;;
    esac
}

main "$@"
