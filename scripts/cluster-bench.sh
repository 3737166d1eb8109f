#!/usr/bin/env bash
# `ply bench` against two `ply serve` instances on one throwaway PostgreSQL behind nginx
# (scripts/cluster-lib.sh), summing the CPU of every process of the deployment.
#
#   scripts/cluster-bench.sh SERVER_BINARY BENCH_BINARY OUT_DIR [ply bench options...]
#
# NGINX_CONF names another site file than Assets/nginx.conf (an older build's). Example, two
# builds under one load generator:
#   scripts/cluster-bench.sh /tmp/ply-before .build/release/ply bench-out/before --levels 10 --saturate
set -euo pipefail
server=$1 bench=$2 out=$3
shift 3
source "$(dirname "$0")/cluster-lib.sh"
cluster_up "$server" 2
"$bench" bench --server "http://127.0.0.1:$front" --server-process 'ply serve' --server-process 'postgres:' \
    --server-process 'bin/postgres' --server-process nginx --transports ws,longpoll --out "$out" "$@"
