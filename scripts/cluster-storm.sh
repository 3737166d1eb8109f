#!/usr/bin/env bash
# The reconnect storm through a deployment: two `ply serve` instances on one throwaway
# PostgreSQL behind nginx (scripts/cluster-lib.sh), CLIENTS clients in live games through
# nginx, then one instance killed with SIGKILL and started again; the clients it held come
# back through nginx (to the other instance at first) and nothing acknowledged may be lost.
# The CPU and memory read are those of every process of the deployment.
#
#   scripts/cluster-storm.sh PLY_BINARY CLIENTS OUT_DIR [ply bench options...]
#
# Each client holds a connection or two through nginx, and nginx two descriptors for each
# (client and upstream): with this machine's limit of 20,000 descriptors a process, nginx runs
# two workers (NGINX_WORKERS), and the load generator's own descriptors put the top near
# 10,000 clients.
set -euo pipefail
ply=$1 clients=$2 out=$3
shift 3
export NGINX_WORKERS=${NGINX_WORKERS:-2} NGINX_WORKER_CONNECTIONS=${NGINX_WORKER_CONNECTIONS:-19000} PLY_SERVE_ARGS="--max-connections 40000 ${PLY_SERVE_ARGS:-}"
ulimit -n "$(ulimit -Hn)"
source "$(dirname "$0")/cluster-lib.sh"
cluster_up "$ply" 2
disown -a  # the instance killed is no job of this shell's to report
victim=${instances[0]}
cat >"$dir/restart.sh" <<RESTART
#!/usr/bin/env bash
pkill -9 -f "serve --port $victim " || true
sleep 0.5
"$ply" serve --port "$victim" --store "$url" --trusted-proxy 127.0.0.1 --client-limits off \\
    --commands-per-second 1000000000 \$PLY_SERVE_ARGS --log-level warning >>"$dir/ply-$victim.log" 2>&1 </dev/null &
for _ in \$(seq 1 200); do curl -s "http://127.0.0.1:$victim/health" >/dev/null 2>&1 && exit 0; sleep 0.05; done
exit 1
RESTART
chmod +x "$dir/restart.sh"
"$ply" bench --server "http://127.0.0.1:$front" --server-process 'ply serve' --server-process 'postgres:' \
    --server-process 'bin/postgres' --server-process nginx --storm "$clients" --storm-restart "$dir/restart.sh" --out "$out" "$@"
echo "instance killed and restarted: 127.0.0.1:$victim; its log: $(tail -3 "$dir/ply-$victim.log" 2>/dev/null | tr '\n' ' ')"
