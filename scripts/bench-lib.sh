# What the benchmark scripts (bench, bench-create, bench-scale-out) share; sourced by them.
# Expects from the script: $me (its name, for messages), $work (a scratch folder) and the
# array pids (every server started, for cleanup).

# mysql://USER:PASS@HOST:PORT/DB (CHAT_TEST_MYSQL_URL) → the mysql client with its flags.
mysql_admin() {
    local rest=${CHAT_TEST_MYSQL_URL#mysql://} creds hostport
    creds=${rest%%@*}
    hostport=${rest#*@}
    hostport=${hostport%%/*}
    mysql -h "${hostport%%:*}" -P "${hostport##*:}" -u "${creds%%:*}" -p"${creds#*:}" "$@"
}

# launch_server BINARY ARGS…: chat-server on a free port; sets $url and $pid.
launch_server() {
    local bin=$1
    shift
    local log=$work/server-${#pids[@]}-$RANDOM.out
    : >"$log"
    "$bin" --listen 127.0.0.1:0 --log warn "$@" >"$log" 2>&1 &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 1 600); do
        url=$(sed -n 's/^listening on //p' "$log" | head -1)
        [[ -n $url ]] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$log" >&2
    echo "$me: chat-server did not start" >&2
    exit 1
}

# wait_drained CHATCTL API-URL: waits until the queue behind the API is empty (nothing waiting,
# nothing held by a worker), at most 600 s; prints the seconds it took.
wait_drained() {
    local chatctl=$1 api=$2 t0 q
    t0=$(date +%s.%N)
    while :; do
        q=$("$chatctl" --server "$api" --admin-token bench queue status --output json)
        [[ $(jq '.depth + .pending' <<<"$q") == 0 ]] && break
        if awk -v s="$t0" -v n="$(date +%s.%N)" 'BEGIN { exit !(n - s > 600) }'; then
            echo "$me: the queue did not drain within 600 s: $q" >&2
            exit 1
        fi
        sleep 0.05
    done
    awk -v s="$t0" -v n="$(date +%s.%N)" 'BEGIN { printf "%.2f", n - s }'
}

# The median of the numbers on stdin, one per line.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
