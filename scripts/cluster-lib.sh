# Shared by scripts/cluster-bench.sh and scripts/cluster-drill.sh: a throwaway PostgreSQL
# (Debian's, its defaults), N `ply serve` instances on it, and nginx in front with the shipped
# Assets/nginx.conf (or NGINX_CONF), all on free loopback ports, torn down on exit.
# As root, PostgreSQL runs as the postgres user. After `cluster_up SERVER N`: $front is nginx's
# port, ${instances[@]} the instances' ports, $url the database, $dir the working directory.
# NGINX_WORKERS (1) and NGINX_WORKER_CONNECTIONS (4096, each) size nginx; PLY_SERVE_ARGS adds options to each instance;
# KEEP_LOGS=DIR keeps the logs (PostgreSQL's, nginx's, each instance's) there.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=$(mktemp -d /tmp/ply-cluster-XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
pids=()
declare -A instance_pids
cluster_down() {
    [ -n "${KEEP_LOGS:-}" ] && mkdir -p "$KEEP_LOGS" && cp "$dir"/*.log "$KEEP_LOGS"/ 2>/dev/null
    for pid in "${pids[@]}" "${instance_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    # Instances a drill started again in a subshell are found by their port.
    for port in "${instances[@]:-}"; do [ -n "$port" ] && pkill -f "serve --port $port " 2>/dev/null || true; done
    sleep 1
    as_pg "$pgbin/pg_ctl" -D "$dir/db" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cluster_down EXIT
pg_start() { as_pg "$pgbin/pg_ctl" -D "$dir/db" -o "-p $pg -k $dir -c listen_addresses=127.0.0.1" -l "$dir/pg.log" -w start >/dev/null; }
pg_stop() { as_pg "$pgbin/pg_ctl" -D "$dir/db" -m fast -w stop >/dev/null; }
sql() { "$pgbin/psql" -h 127.0.0.1 -p "$pg" -U ply -d ply -At -c "$1"; }
instance_start() {
    local port=$1
    "$server" serve --port "$port" --store "$url" --trusted-proxy 127.0.0.1 --client-limits off \
        --commands-per-second 1000000000 --log-level warning ${PLY_SERVE_ARGS:-} >>"$dir/ply-$port.log" 2>&1 &
    instance_pids[$port]=$!
    for _ in $(seq 1 100); do curl -s "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return; sleep 0.1; done
}
cluster_up() {
    server=$1
    local count=$2
    pg=$(free_port)
    front=$(free_port)
    instances=()
    for _ in $(seq 1 "$count"); do instances+=("$(free_port)"); done
    as_pg "$pgbin/initdb" -D "$dir/db" -A trust -U ply >/dev/null
    pg_start
    "$pgbin/psql" -h 127.0.0.1 -p "$pg" -U ply -d postgres -qc "CREATE DATABASE ply"
    url="postgres://ply@127.0.0.1:$pg/ply?sslmode=disable"
    for port in "${instances[@]}"; do instance_start "$port"; done
    local servers=""
    for port in "${instances[@]}"; do servers+="    server 127.0.0.1:$port max_fails=1 fail_timeout=2s;\n"; done
    # Each upstream's run of server lines becomes one line per instance.
    awk -v servers="$servers" -v front="$front" '
        /^ *server 127\.0\.0\.1:/ { if (!done[NR-1]) { printf "%s", servers }; done[NR] = 1; next }
        /^ *listen 8080;/ { print "    listen 127.0.0.1:" front ";"; next }
        { print }' "${NGINX_CONF:-$repo/Assets/nginx.conf}" >"$dir/ply.conf"
    cat >"$dir/nginx.conf" <<CONF
daemon off;
worker_processes ${NGINX_WORKERS:-1};
$( [ "$(id -u)" -eq 0 ] && echo "user root;" )
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
worker_rlimit_nofile $(( ${NGINX_WORKER_CONNECTIONS:-4096} + 100 ));
events { worker_connections ${NGINX_WORKER_CONNECTIONS:-4096}; }
http {
    access_log off;
    client_body_temp_path $dir/body; proxy_temp_path $dir/proxy; fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;
    include $dir/ply.conf;
}
CONF
    nginx -p "$dir" -c "$dir/nginx.conf" &
    pids+=($!)
    for _ in $(seq 1 100); do curl -s "http://127.0.0.1:$front/health" >/dev/null 2>&1 && break; sleep 0.1; done
}
