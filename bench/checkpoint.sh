#!/usr/bin/env bash
# What checkpointing costs: `durl get` of one SIZE_MIB file from nginx on loopback with the
# default --checkpoint-interval (1 s) against a very long one (1000 s: no checkpoint during
# the transfer), RUNS interleaved runs each, on disk (OUTDIR to change). Prints best and median
# MB/s of each and the cost of checkpointing (median against median); checks the bytes.
# For scale, a third row times `curl -o FILE && sync FILE`: curl made as durable as durl's
# finished file (durl fsyncs before the rename; plain curl leaves the data in the page cache).
#
# Run from the project root:  bench/checkpoint.sh
# Environment: SIZE_MIB (default 1024)  RUNS (default 5)  X (connections, default 1)
#              OUTDIR (default: a temporary directory on disk)  DURL (another binary)
set -u
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-5}
X=${X:-1}
[ -f Cargo.toml ] || { echo "run this from the project root" >&2; exit 2; }
for c in nginx curl bc python3; do command -v "$c" >/dev/null || { echo "missing: $c" >&2; exit 2; }; done
if [ -z "${DURL:-}" ]; then cargo build --release --locked -q -p durl || exit 2; fi
durl=${DURL:-$(pwd)/target/release/durl}

work=$(mktemp -d)
. "$(dirname "$0")/nginx.sh"
mkdir -p "$work/www"
head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$work/www/big.bin"
start_nginx "$work/www" || exit 2
out=${OUTDIR:-$work/out}
mkdir -p "$out"

: > "$work/runs"
for _ in $(seq 1 "$RUNS"); do
  for interval in 1 1000 curl+sync; do
    rm -f "$out/big.bin"; sync
    t0=$(date +%s.%N)
    if [ "$interval" = curl+sync ]; then
      curl -fsS -o "$out/big.bin" "http://127.0.0.1:$ngx_port/big.bin" && sync "$out/big.bin"
    else
      "$durl" get -q -x "$X" --checkpoint-interval "$interval" -o "$out/big.bin" "http://127.0.0.1:$ngx_port/big.bin"
    fi
    rc=$?
    t1=$(date +%s.%N)
    ok=yes; { [ $rc -eq 0 ] && cmp -s "$out/big.bin" "$work/www/big.bin"; } || ok="NO(rc=$rc)"
    echo "$interval $(echo "$t1 - $t0" | bc -l) $ok" >> "$work/runs"
  done
done
rm -f "$out/big.bin"
[ -z "${OUTDIR:-}" ] || rmdir "$OUTDIR" 2>/dev/null

mbps() { echo "$SIZE_MIB * 1.048576 / $1" | bc -l; }
echo
echo "checkpoint cost: $SIZE_MIB MiB from nginx on loopback, -x $X, $RUNS interleaved runs"
echo "| durl --checkpoint-interval | best MB/s | median MB/s | exact |"
echo "|---|---|---|---|"
for interval in 1 1000 curl+sync; do
  b=$(awk -v i=$interval '$1==i {print $2}' "$work/runs" | sort -n | head -n 1)
  m=$(awk -v i=$interval '$1==i {print $2}' "$work/runs" | median)
  ok=$(awk -v i=$interval '$1==i && $3!="yes" {print $3; exit}' "$work/runs")
  printf '| %s | %.0f | %.0f | %s |\n' "$interval" "$(mbps "$b")" "$(mbps "$m")" "${ok:-yes}"
done
m1=$(awk '$1==1 {print $2}' "$work/runs" | median)
m1000=$(awk '$1==1000 {print $2}' "$work/runs" | median)
printf 'checkpointing costs %.1f%% (median time, 1 s against 1000 s)\n' "$(echo "($m1 - $m1000) * 100 / $m1000" | bc -l)"
