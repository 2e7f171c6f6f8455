#!/usr/bin/env bash
# tus upload against download: `durl put` of one SIZE_MIB file to `durl serve --upload` on
# loopback, then `durl get` of the very file that landed from the same server, RUNS
# interleaved runs, both writing to the same disk (the served directory and OUTDIR are on
# disk unless told otherwise). Every upload is compared byte for byte with the source and
# every download with the upload. Prints best and median MB/s, the ratio put/get (median
# against median), the client's peak RSS and the CPU seconds per GiB of the client and of
# the server (from /proc/PID/stat around each run), and the server's peak RSS.
#
# Run from the project root:  bench/upload.sh
# Environment: SIZE_MIB (default 1024)  RUNS (default 5)
#              OUTDIR (where `durl get` writes; default: a temporary directory on disk)
#              SERVEDIR (the served directory uploads land in; default: one on disk)
#              DURL (another binary; default: target/release/durl, built here)
set -u
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-5}
[ -f Cargo.toml ] || { echo "run this from the project root" >&2; exit 2; }
for c in /usr/bin/time bc python3 cmp; do
  command -v "$c" >/dev/null || { echo "missing: $c (apt-get install time bc)" >&2; exit 2; }
done
if [ -z "${DURL:-}" ]; then cargo build --release --locked -q -p durl || exit 2; fi
durl=${DURL:-$(pwd)/target/release/durl}

work=$(mktemp -d)
srv_pid=
trap '[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/src"
head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$work/src/big.bin"
www=${SERVEDIR:-$work/www}
out=${OUTDIR:-$work/out}
mkdir -p "$www" "$out"
[ -e "$www/big.bin" ] && { echo "$www/big.bin exists" >&2; exit 2; }

"$durl" serve "$www" --port 0 --quiet --upload --upload-dir "$work/uploads" > "$work/serve.out" 2> "$work/serve.err" &
srv_pid=$!
url=
for _ in $(seq 1 100); do
  url=$(awk '/^Serving /{print $NF; exit}' "$work/serve.out")
  [ -n "$url" ] && break
  kill -0 "$srv_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$url" ] || { echo "durl serve did not start: $(cat "$work/serve.err")" >&2; exit 2; }

# CPU ticks (user + system) the server has used so far.
srv_ticks() { awk '{print $14 + $15}' "/proc/$srv_pid/stat"; }
hz=$(getconf CLK_TCK)

: > "$work/runs"
one() { # NAME COMMAND...; appends "NAME seconds rssKiB clientCPUs serverCPUs ok"
  local name=$1; shift
  sync
  local t0 t1 s0 s1 rc
  s0=$(srv_ticks); t0=$(date +%s.%N)
  /usr/bin/time -f '%M %U %S' -o "$work/time" "$@" > "$work/log" 2>&1; rc=$?
  t1=$(date +%s.%N); s1=$(srv_ticks)
  local ok=yes
  case $name in
    put) { [ $rc -eq 0 ] && cmp -s "$www/big.bin" "$work/src/big.bin"; } || ok="NO(rc=$rc)" ;;
    get) { [ $rc -eq 0 ] && cmp -s "$out/big.bin" "$www/big.bin"; } || ok="NO(rc=$rc)" ;;
  esac
  [ "$ok" = yes ] || { echo "$name failed:" >&2; tail -n 5 "$work/log" >&2; }
  read -r rss cu cs < <(tail -n 1 "$work/time")
  echo "$name $(echo "$t1 - $t0" | bc -l) $rss $(echo "$cu + $cs" | bc -l) $(echo "($s1 - $s0) / $hz" | bc -l) $ok" >> "$work/runs"
}
for _ in $(seq 1 "$RUNS"); do
  rm -f "$www/big.bin" "$out/big.bin" "$work/src/big.bin.durl-upload"
  # --force: the file carries the mark of the previous run's finished upload.
  one put "$durl" put -q --force "$work/src/big.bin" "${url}.durl/uploads/"
  one get "$durl" get -q -o "$out/big.bin" "${url}big.bin"
done
srv_rss=$(awk '/^VmHWM/{print $2}' "/proc/$srv_pid/status")
rm -f "$www/big.bin" "$out/big.bin"
[ -z "${OUTDIR:-}" ] || rmdir "$OUTDIR" 2>/dev/null
[ -z "${SERVEDIR:-}" ] || rmdir "$SERVEDIR" 2>/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mbps() { echo "$SIZE_MIB * 1.048576 / $1" | bc -l; }
col() { awk -v n="$1" -v c="$2" '$1==n {print $c}' "$work/runs"; }
per_gib() { echo "$1 * 1024 / $SIZE_MIB" | bc -l; }
echo
echo "tus upload: $SIZE_MIB MiB, durl put to durl serve --upload, then durl get of it, loopback, $RUNS interleaved runs"
echo "| durl | best MB/s | median MB/s | client CPU s/GiB | server CPU s/GiB | client peak RSS MiB | exact |"
echo "|---|---|---|---|---|---|---|"
for n in put get; do
  b=$(col $n 2 | sort -n | head -n 1); m=$(col $n 2 | median)
  rss=$(col $n 3 | sort -n | tail -n 1)
  ok=$(awk -v n="$n" '$1==n && $6!="yes" {print $6; exit}' "$work/runs")
  printf '| %s | %.0f | %.0f | %.2f | %.2f | %d | %s |\n' "$n" "$(mbps "$b")" "$(mbps "$m")" \
    "$(per_gib "$(col $n 4 | median)")" "$(per_gib "$(col $n 5 | median)")" "$((rss / 1024))" "${ok:-yes}"
done
printf 'put/get: %.2fx (median MB/s); durl serve peak RSS %d MiB\n' \
  "$(echo "$(col get 2 | median) / $(col put 2 | median)" | bc -l)" "$((srv_rss / 1024))"
