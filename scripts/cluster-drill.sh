#!/usr/bin/env bash
# A fault drill: three `ply serve` instances on one PostgreSQL behind nginx
# (scripts/cluster-lib.sh) while `ply bot` plays games through nginx (seat 0 WebSocket, seat 1
# long-polling); meanwhile PostgreSQL is restarted (`pg_ctl stop -m fast`, start) and an
# instance killed with SIGKILL and started again, in turn, every few seconds. Then: every
# game finished without error, each instance serves every match as the database holds it, byte
# for byte, and the database holds at least every move the bots had acknowledged.
#
#   scripts/cluster-drill.sh PLY_BINARY [GAMES] [CONCURRENCY]
set -euo pipefail
ply=$1 games=${2:-60} concurrency=${3:-6}
source "$(dirname "$0")/cluster-lib.sh"
cluster_up "$ply" 3
restarts=0 kills=0
(
    turn=0
    while true; do
        sleep 3
        if [ $((turn % 2)) -eq 0 ]; then
            pg_stop; sleep 0.5; pg_start; echo restart
        else
            port=${instances[$((turn / 2 % 3))]}
            kill -9 "${instance_pids[$port]}" 2>/dev/null || true
            sleep 0.5
            "$ply" serve --port "$port" --store "$url" --trusted-proxy 127.0.0.1 --client-limits off \
                --commands-per-second 1000000000 --log-level warning >>"$dir/ply-$port.log" 2>&1 &
            echo "kill $!"
        fi
        turn=$((turn + 1))
    done
) >"$dir/faults.log" 2>&1 &
faults=$!
"$ply" bot --server "http://127.0.0.1:$front" --games "$games" --concurrency "$concurrency" --transport mixed \
    --strategy random --opponent random --think 20-60 --seed 11 >"$dir/bot.log" 2>&1 || true
kill "$faults" 2>/dev/null || true
wait "$faults" 2>/dev/null || true
# The instances killed last were started by the fault loop: make sure each port answers.
for port in "${instances[@]}"; do
    curl -s "http://127.0.0.1:$port/health" >/dev/null 2>&1 || instance_start "$port"
done
sleep 2
cat "$dir/bot.log" | tail -12
restarts=$(grep -c restart "$dir/faults.log" || true)
kills=$(grep -c kill "$dir/faults.log" || true)
acknowledged=$(awk '$1 == "moves" {print $2; exit}' "$dir/bot.log")
stored=$(sql "SELECT count(*) FROM ply_events WHERE body LIKE '%\"type\":\"moved\"%'")
matches=$(sql "SELECT id FROM ply_matches")
disagreeing=0
for match in $matches; do
    want="[$(sql "SELECT string_agg(body, ',' ORDER BY version) FROM ply_events WHERE match_id = '$match'")]"
    for port in "${instances[@]}"; do
        got=$(curl -s "http://127.0.0.1:$port/matches/$match/events?after=0&wait=0")
        [ "$got" = "$want" ] || { disagreeing=$((disagreeing + 1)); echo "instance $port disagrees on $match"; }
    done
done
echo "faults: $restarts PostgreSQL restarts, $kills instance kills"
echo "moves acknowledged to the bots: $acknowledged; moves in the database: $stored; lost: $(( acknowledged > stored ? acknowledged - stored : 0 ))"
echo "matches: $(echo "$matches" | wc -w); instance logs differing from the database's: $disagreeing"
