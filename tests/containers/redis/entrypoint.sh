#!/bin/sh
# Like the official image: the server listens on every interface of the container with
# protected mode off (the container's network is the boundary) and runs as the redis user.
set -eu
if [ "${1:-}" = redis-server ]; then
    shift
    chown -R redis:redis /data
    exec setpriv --reuid=redis --regid=redis --init-groups \
        redis-server --bind 0.0.0.0 --protected-mode no --dir /data "$@"
fi
exec "$@"
