#!/usr/bin/env bash
# Counters on PostgreSQL against SQLite --sync full (issue 20), with loadgen pingpong.
#
#   cargo build --release --bin shop-server --example loadgen
#   bash benches/pg_counters.sh [ROUNDS] [SECS]      # defaults: 3 rounds of 3 s
#
# Starts a throwaway PostgreSQL (durable defaults: fsync and synchronous_commit on) in
# a temporary folder, one shop-server on a fresh SQLite ledger with --sync full and one
# on PostgreSQL, and alternates `loadgen pingpong --clients 64` against them (SQLite,
# PostgreSQL, SQLite, ...), printing the paired ratio of each round. Then a second
# counter on the same database: two loadgens of 32 customers at once, one per counter,
# printing the total rate and the worse p99. Everything is stopped at the end, also on
# failure. Needs PostgreSQL (Debian: apt-get install postgresql) and, as root, the
# postgres user (initdb refuses to run as root).
set -euo pipefail
rounds=${1:-3}
secs=${2:-3}
cd "$(dirname "$0")/.."
server=target/release/shop-server
loadgen=target/release/examples/loadgen
for bin in "$server" "$loadgen"; do
    [[ -x $bin ]] || { echo "missing $bin: cargo build --release --bin shop-server --example loadgen" >&2; exit 1; }
done
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -n $pgbin ]] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
as_pg=()
if [[ $(id -u) == 0 ]]; then
    chown postgres: "$tmp"
    as_pg=(runuser -u postgres --)
fi
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pgport=$(free_port)
"${as_pg[@]}" "$pgbin/initdb" -D "$tmp/data" -U shop -A trust -E UTF8 >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$tmp/data" -l "$tmp/pg.log" -w \
    -o "-p $pgport -h 127.0.0.1 -k $tmp" start >/dev/null
url="postgres://shop@127.0.0.1:$pgport/postgres"

# Starts a shop-server with the given ledger options; sets $addr.
start() {
    local out="$tmp/server.$RANDOM"
    "$server" --port 0 --goods benches/unlimited.toml --max-clients 20000 \
        --max-per-ip 20000 --idle-timeout 600 "$@" >"$out" 2>"$out.log" &
    pids+=($!)
    for _ in $(seq 100); do
        addr=$(sed -n 's/^listening on //p' "$out")
        [[ -n $addr ]] && return
        sleep 0.1
    done
    echo "shop-server did not start: $(cat "$out.log")" >&2
    exit 1
}
field() { python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['$1'])"; }
pingpong() { "$loadgen" pingpong --addr "$1" --clients "$2" --secs "$secs"; }

start --ledger "$tmp/full.db" --sync full
sqlite=$addr
start --ledger "$url" --counter one
pg=$addr
echo "round sqlite_full_ops_s postgres_ops_s ratio sqlite_p99_us postgres_p99_us (64 customers, ${secs} s)"
for r in $(seq "$rounds"); do
    s=$(pingpong "$sqlite" 64)
    p=$(pingpong "$pg" 64)
    so=$(field ops_per_sec <<<"$s"); po=$(field ops_per_sec <<<"$p")
    echo "$r $so $po $(python3 -c "print(round($po/$so, 2))") $(field p99_us <<<"$s") $(field p99_us <<<"$p")"
done

start --ledger "$url" --counter two
two=$addr
echo "round total_ops_s worse_p99_us (two counters x 32 customers, one database)"
for r in $(seq "$rounds"); do
    pingpong "$pg" 32 >"$tmp/a" &
    a=$!
    pingpong "$two" 32 >"$tmp/b"
    wait "$a"
    total=$(python3 -c "import json; a,b=[json.load(open(f)) for f in ('$tmp/a','$tmp/b')]; print(round(a['ops_per_sec']+b['ops_per_sec']), max(a['p99_us'],b['p99_us']))")
    echo "$r $total"
done
