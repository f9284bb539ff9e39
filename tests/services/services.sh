#!/usr/bin/env bash
# Installs and runs the real backing services used by the distributed-profile
# tests: MariaDB, Redis, a single-node OpenSearch, a single-node Elasticsearch 8
# and a three-node OpenSearch cluster; and installs the headless browser of the
# web console's tests (Chromium and its WebDriver server).
#
#   services.sh start  [SERVICE|all]   (default: all)
#   services.sh stop   [SERVICE|all]   (default: all)
#   services.sh status [SERVICE|all]
#   services.sh env                    prints export lines
#
# SERVICE: mariadb, redis, redis-cluster, opensearch, elasticsearch,
# opensearch-cluster, browser. `all` is every one but the OpenSearch cluster
# (three JVMs), which is started only when named.
#
# Every service binds 127.0.0.1 on a non-default port and keeps its data in a
# throwaway folder under the state dir, so it never collides with a system
# instance and `stop` leaves nothing behind. `start` is idempotent.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
STATE_DIR=${CHAT_SERVICES_DIR:-/tmp/chat-services}

MYSQL_PORT=${CHAT_SERVICES_MYSQL_PORT:-33306}
REDIS_PORT=${CHAT_SERVICES_REDIS_PORT:-36379}
# The Redis Cluster: 3 masters and 3 replicas on six consecutive ports from this one.
REDIS_CLUSTER_FIRST_PORT=${CHAT_SERVICES_REDIS_CLUSTER_PORT:-37001}
OPENSEARCH_HTTP_PORT=${CHAT_SERVICES_OPENSEARCH_PORT:-39200}
OPENSEARCH_TRANSPORT_PORT=${CHAT_SERVICES_OPENSEARCH_TRANSPORT_PORT:-39300}
ES_HTTP_PORT=${CHAT_SERVICES_ES_PORT:-39201}
ES_TRANSPORT_PORT=${CHAT_SERVICES_ES_TRANSPORT_PORT:-39301}
# The cluster's node i (0, 1, 2) listens on base + i.
CLUSTER_HTTP_PORT=${CHAT_SERVICES_CLUSTER_PORT:-39210}
CLUSTER_TRANSPORT_PORT=${CHAT_SERVICES_CLUSTER_TRANSPORT_PORT:-39310}
CLUSTER_NODES=3

# Upper bounds for a service to answer after being launched, in seconds.
MYSQL_START_TIMEOUT=${CHAT_SERVICES_MYSQL_TIMEOUT:-60}
REDIS_START_TIMEOUT=${CHAT_SERVICES_REDIS_TIMEOUT:-30}
OPENSEARCH_START_TIMEOUT=${CHAT_SERVICES_OPENSEARCH_TIMEOUT:-180}
ES_START_TIMEOUT=${CHAT_SERVICES_ES_TIMEOUT:-180}
STOP_TIMEOUT=30

OPENSEARCH_MODULE="$SCRIPT_DIR/opensearch"
OPENSEARCH_JAR="$OPENSEARCH_MODULE/target/opensearch-node-1.0.0.jar"
OPENSEARCH_CLASSPATH_FILE="$OPENSEARCH_MODULE/target/classpath.txt"
ES_MODULE="$SCRIPT_DIR/elasticsearch"
ES_JAR="$ES_MODULE/target/elasticsearch-node-1.0.0.jar"
ES_CLASSPATH_FILE="$ES_MODULE/target/classpath.txt"

ALL_SERVICES=(mariadb redis redis-cluster opensearch elasticsearch browser)

log() { printf '[services] %s\n' "$*" >&2; }

die() {
    log "ERROR: $*"
    exit 1
}

# The services listen on fixed ports inside the kernel's ephemeral range (32768-60999 by
# default), which it also hands out as the local port of outgoing connections. A client socket
# that happens to hold, say, 39322 when a node starts (or a killed Redis master is started
# again) makes the bind fail with "address in use", though nothing listens there. So `start`
# adds the ports of what it starts to net.ipv4.ip_local_reserved_ports, which only takes them
# out of that automatic choice (an explicit bind still gets them). Done when the file is
# writable (root); otherwise the chance of a clash is only logged.
reserve_ports() {
    local file=/proc/sys/net/ipv4/ip_local_reserved_ports current merged
    if [[ ! -w $file ]]; then
        log "cannot reserve ports $* from outgoing connections ($file is not writable)"
        return 0
    fi
    current=$(<"$file")
    merged=$(printf '%s\n' "${current//,/ }" "$@" | tr ' ' '\n' | sed '/^$/d' | sort -u -n | paste -sd, -)
    if [[ $merged != "$current" ]]; then
        printf '%s\n' "$merged" >"$file" || log "could not reserve ports $*"
    fi
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
# Redis Cluster: 3 masters + 3 replicas (AOF on, a short cluster-node-timeout so
# that a replica takes over a killed master within seconds)
# ---------------------------------------------------------------------------

REDIS_CLUSTER_DIR="$STATE_DIR/redis-cluster"
REDIS_CLUSTER_NODE_TIMEOUT=${CHAT_SERVICES_REDIS_CLUSTER_NODE_TIMEOUT:-1000}

redis_cluster_ports() {
    local i
    for ((i = 0; i < 6; i++)); do printf '%s\n' $((REDIS_CLUSTER_FIRST_PORT + i)); done
}

# redis_cluster_node_ok PORT: the node answers and sees the cluster as healthy.
redis_cluster_node_ok() {
    redis-cli -h 127.0.0.1 -p "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'
}

redis_cluster_ok() {
    local port
    for port in $(redis_cluster_ports); do
        redis_cluster_node_ok "$port" || return 1
    done
}

# launch_redis_cluster_node PORT: one node, with its own folder (data, AOF, nodes.conf).
launch_redis_cluster_node() {
    local port=$1 dir="$REDIS_CLUSTER_DIR/$1"
    port_open "$port" && die "127.0.0.1:$port is taken by a process this script did not start"
    mkdir -p "$dir"
    rm -f "$dir/redis.pid"
    if ! redis-server \
        --bind 127.0.0.1 \
        --port "$port" \
        --dir "$dir" \
        --cluster-enabled yes \
        --cluster-config-file nodes.conf \
        --cluster-node-timeout "$REDIS_CLUSTER_NODE_TIMEOUT" \
        --appendonly yes \
        --appendfsync everysec \
        --daemonize yes \
        --pidfile "$dir/redis.pid" \
        --logfile "$dir/redis.log" </dev/null; then
        show_log_tail "$dir/redis.log"
        die "redis-server (cluster node $port) failed to launch"
    fi
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s $dir/redis.pid ]] && break
        sleep 0.1
    done
}

start_redis_cluster() {
    apt_install redis-server redis-tools
    local port fresh=0 deadline
    for port in $(redis_cluster_ports); do
        if pid_alive "$REDIS_CLUSTER_DIR/$port/redis.pid" redis-server; then
            continue
        fi
        [[ -s $REDIS_CLUSTER_DIR/$port/nodes.conf ]] || fresh=1
        log "starting redis cluster node on 127.0.0.1:$port"
        launch_redis_cluster_node "$port"
    done
    deadline=$((SECONDS + REDIS_START_TIMEOUT))
    for port in $(redis_cluster_ports); do
        until [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]; do
            ((SECONDS < deadline)) || {
                show_log_tail "$REDIS_CLUSTER_DIR/$port/redis.log"
                die "redis cluster node $port did not answer within ${REDIS_START_TIMEOUT}s"
            }
            sleep 0.1
        done
    done
    if ((fresh == 1)) && ! redis_cluster_ok; then
        log "creating the redis cluster (3 masters, 3 replicas)"
        local nodes=()
        for port in $(redis_cluster_ports); do nodes+=("127.0.0.1:$port"); done
        redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >&2 \
            || die "redis-cli --cluster create failed"
    fi
    until redis_cluster_ok; do
        ((SECONDS < deadline)) || die "the redis cluster is not ok after ${REDIS_START_TIMEOUT}s"
        sleep 0.2
    done
    log "redis cluster ready: $(redis_cluster_urls)"
}

stop_redis_cluster() {
    local port
    for port in $(redis_cluster_ports); do
        stop_pidfile "$REDIS_CLUSTER_DIR/$port/redis.pid" redis-server
    done
    rm -rf "$REDIS_CLUSTER_DIR"
}

status_redis_cluster() {
    local port
    for port in $(redis_cluster_ports); do
        pid_alive "$REDIS_CLUSTER_DIR/$port/redis.pid" redis-server || return 1
    done
    redis_cluster_ok
}

redis_cluster_urls() {
    local port sep=
    for port in $(redis_cluster_ports); do
        printf '%sredis://127.0.0.1:%s' "$sep" "$port"
        sep=,
    done
}

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

# build_launcher MODULE JAR CLASSPATH_FILE NAME: builds a launcher jar and its
# dependency classpath when missing or older than its sources; Maven caches the
# downloaded artifacts in ~/.m2, so later builds work offline too.
build_launcher() {
    local module=$1 jar=$2 classpath_file=$3 name=$4
    if [[ -f $jar && -s $classpath_file ]] &&
        [[ -z $(find "$module/pom.xml" "$module/src" -newer "$jar" -print -quit) ]]; then
        return 0
    fi
    if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
        apt_install openjdk-17-jdk-headless maven
    fi
    log "building the $name launcher (first run downloads its dependencies)"
    local build_log="$module/target/build.log"
    mkdir -p "$module/target"
    if ! mvn -q -B -f "$module/pom.xml" package dependency:build-classpath \
        -Dmdep.outputFile="$classpath_file" >"$build_log" 2>&1; then
        show_log_tail "$build_log"
        die "building the $name launcher failed"
    fi
}

build_opensearch() {
    build_launcher "$OPENSEARCH_MODULE" "$OPENSEARCH_JAR" "$OPENSEARCH_CLASSPATH_FILE" OpenSearch
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
# Elasticsearch 8 (embedded node built from elasticsearch/, see its pom.xml and
# the README beside this script for what is Elasticsearch's code)
# ---------------------------------------------------------------------------

ES_DIR="$STATE_DIR/elasticsearch"
ES_PIDFILE="$ES_DIR/elasticsearch.pid"
ES_LOG="$ES_DIR/elasticsearch.log"

es_healthy() {
    curl -sf --max-time 10 \
        "http://127.0.0.1:$ES_HTTP_PORT/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null
}

start_elasticsearch() {
    if pid_alive "$ES_PIDFILE" java; then
        log "elasticsearch already running on 127.0.0.1:$ES_HTTP_PORT"
    else
        launch_elasticsearch
    fi
    wait_until "$ES_START_TIMEOUT" "$ES_PIDFILE" "$ES_LOG" elasticsearch es_healthy
    log "elasticsearch ready: $(es_url)"
}

launch_elasticsearch() {
    port_open "$ES_HTTP_PORT" && die "127.0.0.1:$ES_HTTP_PORT is taken by a process this script did not start"
    port_open "$ES_TRANSPORT_PORT" && die "127.0.0.1:$ES_TRANSPORT_PORT is taken by a process this script did not start"
    build_launcher "$ES_MODULE" "$ES_JAR" "$ES_CLASSPATH_FILE" Elasticsearch
    mkdir -p "$ES_DIR"
    log "starting elasticsearch on 127.0.0.1:$ES_HTTP_PORT"
    # As for OpenSearch: a throwaway home under $ES_DIR, a fixed small heap, setsid.
    setsid java -Xms512m -Xmx512m \
        -Dchat.elasticsearch.dir="$ES_DIR" \
        -cp "$ES_JAR:$(<"$ES_CLASSPATH_FILE")" \
        chat.testsupport.ElasticsearchNode "$ES_HTTP_PORT" "$ES_TRANSPORT_PORT" \
        </dev/null >"$ES_LOG" 2>&1 &
    echo "$!" >"$ES_PIDFILE"
}

stop_elasticsearch() {
    stop_pidfile "$ES_PIDFILE" java
    rm -rf "$ES_DIR"
}

status_elasticsearch() {
    pid_alive "$ES_PIDFILE" java && es_healthy
}

es_url() { printf 'http://127.0.0.1:%s' "$ES_HTTP_PORT"; }

# ---------------------------------------------------------------------------
# OpenSearch cluster: three nodes of the OpenSearch launcher forming one cluster
# ---------------------------------------------------------------------------

CLUSTER_DIR="$STATE_DIR/opensearch-cluster"
CLUSTER_NAME=chat-test-cluster

cluster_pidfile() { printf '%s/node-%s.pid' "$CLUSTER_DIR" "$1"; }
cluster_log() { printf '%s/node-%s.log' "$CLUSTER_DIR" "$1"; }

# cluster_answers I COUNT: node I answers and sees at least COUNT nodes.
cluster_answers() {
    curl -sf --max-time 10 \
        "http://127.0.0.1:$((CLUSTER_HTTP_PORT + $1))/_cluster/health?wait_for_nodes=%3E%3D$2&timeout=5s" >/dev/null
}

cluster_healthy() {
    curl -sf --max-time 10 \
        "http://127.0.0.1:$CLUSTER_HTTP_PORT/_cluster/health?wait_for_nodes=$CLUSTER_NODES&wait_for_status=yellow&timeout=5s" >/dev/null
}

# One node at a time (two cores): each start waits until the node has joined.
# Node 0 alone bootstraps the cluster; the others join it, and the cluster then
# counts all three in its voting configuration, so it keeps a majority when any
# one of them goes.
start_opensearch_cluster() {
    local i pidfile
    build_opensearch
    mkdir -p "$CLUSTER_DIR"
    for ((i = 0; i < CLUSTER_NODES; i++)); do
        pidfile=$(cluster_pidfile "$i")
        if pid_alive "$pidfile" java; then
            log "opensearch-cluster node $i already running on 127.0.0.1:$((CLUSTER_HTTP_PORT + i))"
        else
            launch_cluster_node "$i"
        fi
        wait_until "$OPENSEARCH_START_TIMEOUT" "$pidfile" "$(cluster_log "$i")" \
            "opensearch-cluster node $i" cluster_answers "$i" "$((i + 1))"
    done
    wait_until "$OPENSEARCH_START_TIMEOUT" "$(cluster_pidfile 0)" "$(cluster_log 0)" \
        opensearch-cluster cluster_healthy
    log "opensearch-cluster ready: $(cluster_urls)"
}

launch_cluster_node() {
    local i=$1 http=$((CLUSTER_HTTP_PORT + $1)) transport=$((CLUSTER_TRANSPORT_PORT + $1)) seeds= j
    port_open "$http" && die "127.0.0.1:$http is taken by a process this script did not start"
    port_open "$transport" && die "127.0.0.1:$transport is taken by a process this script did not start"
    for ((j = 0; j < CLUSTER_NODES; j++)); do
        seeds+="${seeds:+,}127.0.0.1:$((CLUSTER_TRANSPORT_PORT + j))"
    done
    log "starting opensearch-cluster node $i on 127.0.0.1:$http"
    # 448 MiB each: three nodes beside the tests, in the 384-512 MiB the nodes
    # need for the test indices.
    setsid java -Xms448m -Xmx448m \
        -Dchat.opensearch.dir="$CLUSTER_DIR" \
        -Dchat.opensearch.cluster.name="$CLUSTER_NAME" \
        -Dchat.opensearch.node.name="chat-node-$i" \
        -Dchat.opensearch.cluster.seeds="$seeds" \
        -Dchat.opensearch.cluster.managers=chat-node-0 \
        -cp "$OPENSEARCH_JAR:$(<"$OPENSEARCH_CLASSPATH_FILE")" \
        chat.testsupport.OpenSearchNode "$http" "$transport" \
        </dev/null >"$(cluster_log "$i")" 2>&1 &
    echo "$!" >"$(cluster_pidfile "$i")"
}

stop_opensearch_cluster() {
    local i
    for ((i = CLUSTER_NODES - 1; i >= 0; i--)); do
        stop_pidfile "$(cluster_pidfile "$i")" java
    done
    rm -rf "$CLUSTER_DIR"
}

status_opensearch_cluster() {
    local i
    for ((i = 0; i < CLUSTER_NODES; i++)); do
        pid_alive "$(cluster_pidfile "$i")" java || return 1
    done
    cluster_healthy
}

cluster_urls() {
    local i urls=
    for ((i = 0; i < CLUSTER_NODES; i++)); do
        urls+="${urls:+,}http://127.0.0.1:$((CLUSTER_HTTP_PORT + i))"
    done
    printf '%s' "$urls"
}

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
usage: $0 start|stop|status [mariadb|redis|redis-cluster|opensearch|elasticsearch|opensearch-cluster|browser|all]
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
        mariadb | redis | redis-cluster | opensearch | elasticsearch | opensearch-cluster | browser) SERVICES=("$1") ;;
        *) usage ;;
    esac
}

# service_ports SERVICE: the ports it listens on, for reserve_ports.
service_ports() {
    local i
    case $1 in
        mariadb) echo "$MYSQL_PORT" ;;
        redis) echo "$REDIS_PORT" ;;
        redis-cluster) redis_cluster_ports ;;
        opensearch) echo "$OPENSEARCH_HTTP_PORT $OPENSEARCH_TRANSPORT_PORT" ;;
        elasticsearch) echo "$ES_HTTP_PORT $ES_TRANSPORT_PORT" ;;
        opensearch-cluster)
            for ((i = 0; i < CLUSTER_NODES; i++)); do
                echo "$((CLUSTER_HTTP_PORT + i)) $((CLUSTER_TRANSPORT_PORT + i))"
            done
            ;;
    esac
}

print_env() {
    printf 'export CHAT_TEST_MYSQL_URL=%s\n' "$(mysql_url)"
    printf 'export CHAT_TEST_REDIS_URL=%s\n' "$(redis_url)"
    printf 'export CHAT_TEST_REDIS_CLUSTER_URLS=%s\n' "$(redis_cluster_urls)"
    printf 'export CHAT_TEST_ELASTICSEARCH_URL=%s\n' "$(opensearch_url)"
    # The extra engines only when running: tests run against each one whose
    # variable is set, and skip it otherwise.
    if pid_alive "$ES_PIDFILE" java; then
        printf 'export CHAT_TEST_ES8_URL=%s\n' "$(es_url)"
    fi
    if pid_alive "$(cluster_pidfile 0)" java; then
        printf 'export CHAT_TEST_SEARCH_CLUSTER_URLS=%s\n' "$(cluster_urls)"
    fi
    printf 'export CHAT_TEST_CHROMEDRIVER=%s\n' "$CHROMEDRIVER_BIN"
    printf 'export CHAT_TEST_CHROMIUM=%s\n' "$CHROMIUM_BIN"
}

main() {
    local cmd=${1:-} target=${2:-all} svc rc=0
    case $cmd in
        start)
            select_services "$target"
            mkdir -p "$STATE_DIR"
            for svc in "${SERVICES[@]}"; do
                # shellcheck disable=SC2046 # one word per port
                reserve_ports $(service_ports "$svc")
                "start_${svc//-/_}"
            done
            ;;
        stop)
            select_services "$target"
            # `all` stops the cluster too, though `start all` leaves it out.
            [[ $target == all ]] && SERVICES+=(opensearch-cluster)
            for svc in "${SERVICES[@]}"; do "stop_${svc//-/_}"; done
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
                if "status_${svc//-/_}"; then
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
