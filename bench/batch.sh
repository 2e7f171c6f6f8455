#!/usr/bin/env bash
# Many small files: `durl get -j J -i list` against `aria2c -j J -i list`, both from nginx on
# loopback into an empty directory, RUNS interleaved runs. Prints files/s (best and median),
# the ratio to aria2c and the peak RSS, and checks every file byte for byte.
#
# Run from the project root:  bench/batch.sh
# Environment: FILES (default 1000)  SIZE_KIB (default 64)  J (default 16)  RUNS (default 5)
#              DURL (another binary; default: target/release/durl, built here)
set -u
FILES=${FILES:-1000}
SIZE_KIB=${SIZE_KIB:-64}
J=${J:-16}
RUNS=${RUNS:-5}
[ -f Cargo.toml ] || { echo "run this from the project root" >&2; exit 2; }
for c in nginx aria2c /usr/bin/time bc python3; do
  command -v "$c" >/dev/null || { echo "missing: $c (apt-get install nginx aria2 time bc)" >&2; exit 2; }
done
if [ -z "${DURL:-}" ]; then cargo build --release --locked -q -p durl || exit 2; fi
durl=${DURL:-$(pwd)/target/release/durl}

work=$(mktemp -d)
. "$(dirname "$0")/nginx.sh"
mkdir -p "$work/www"
for i in $(seq 1 "$FILES"); do head -c $((SIZE_KIB * 1024)) /dev/urandom > "$work/www/f$i.bin"; done
start_nginx "$work/www" || exit 2
port=$ngx_port
for i in $(seq 1 "$FILES"); do echo "http://127.0.0.1:$port/f$i.bin"; done > "$work/list"

: > "$work/runs"
one() { # NAME COMMAND (run inside an empty directory)
  local d="$work/out"; rm -rf "$d"; mkdir -p "$d"; sync
  local t0 t1 rc ok=yes
  t0=$(date +%s.%N)
  ( cd "$d" && /usr/bin/time -f '%M' -o "$work/rss" bash -c "$2" >"$work/log" 2>&1 ); rc=$?
  t1=$(date +%s.%N)
  local n; n=$(find "$d" -type f -name 'f*.bin' | wc -l)
  [ $rc -eq 0 ] && [ "$n" -eq "$FILES" ] && diff -rq "$d" "$work/www" >/dev/null || ok="NO(rc=$rc,files=$n)"
  echo "$1 $(echo "$t1 - $t0" | bc -l) $(tail -n 1 "$work/rss") $ok" >> "$work/runs"
}
for _ in $(seq 1 "$RUNS"); do
  one aria2c "aria2c -q --file-allocation=none -j $J -i $work/list"
  one durl "$durl get -q -j $J -i $work/list"
done

echo
echo "batch: $FILES files of $SIZE_KIB KiB from nginx on loopback, -j $J, into an empty directory, $RUNS interleaved runs"
echo "| tool | best files/s | median files/s | vs aria2c (best) | peak RSS MiB | exact |"
echo "|---|---|---|---|---|---|"
best() { awk -v n="$1" '$1==n {print $2}' "$work/runs" | sort -n | head -n 1; }
med() { awk -v n="$1" '$1==n {print $2}' "$work/runs" | median; }
aria=$(best aria2c)
for n in aria2c durl; do
  b=$(best $n); m=$(med $n)
  rss=$(awk -v n="$n" '$1==n {print $3}' "$work/runs" | sort -n | tail -n 1)
  ok=$(awk -v n="$n" '$1==n && $4!="yes" {print $4; exit}' "$work/runs")
  printf '| %s | %.0f | %.0f | %.2f | %d | %s |\n' "$n" "$(echo "$FILES / $b" | bc -l)" \
    "$(echo "$FILES / $m" | bc -l)" "$(echo "$aria / $b" | bc -l)" "$((rss / 1024))" "${ok:-yes}"
done
