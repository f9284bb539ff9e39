#!/bin/sh
# First start on an empty volume: a new data folder, the database and the user named by
# MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD and root's MYSQL_ROOT_PASSWORD. Then the server in
# the foreground with the container's arguments.
set -eu
datadir=/var/lib/mysql
chown -R mysql:mysql "$datadir" /run/mysqld
if [ ! -d "$datadir/mysql" ]; then
    echo "entrypoint: initialising $datadir"
    mariadb-install-db --user=mysql --datadir="$datadir" --auth-root-authentication-method=normal \
        --skip-test-db >/dev/null
    mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket=/run/mysqld/init.sock &
    pid=$!
    i=0
    until mariadb-admin --socket=/run/mysqld/init.sock ping >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -lt 300 ] || { echo "entrypoint: the server did not start" >&2; exit 1; }
        sleep 0.1
    done
    {
        echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD:?MYSQL_ROOT_PASSWORD is required}';"
        if [ -n "${MYSQL_DATABASE:-}" ]; then
            echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
        fi
        if [ -n "${MYSQL_USER:-}" ]; then
            echo "CREATE USER '$MYSQL_USER'@'%' IDENTIFIED BY '${MYSQL_PASSWORD:?MYSQL_PASSWORD is required with MYSQL_USER}';"
            echo "CREATE USER '$MYSQL_USER'@'localhost' IDENTIFIED BY '$MYSQL_PASSWORD';"
            if [ -n "${MYSQL_DATABASE:-}" ]; then
                echo "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO '$MYSQL_USER'@'%';"
                echo "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO '$MYSQL_USER'@'localhost';"
            fi
        fi
    } | mariadb --socket=/run/mysqld/init.sock -uroot
    kill "$pid"
    wait "$pid" || true
fi
# No reverse lookups of client addresses (as in the official image): a container's address may
# not resolve, and each connection would wait for the lookup to time out.
exec mariadbd --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 --skip-name-resolve "$@"
