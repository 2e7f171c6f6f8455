#!/usr/bin/env bash
# `durl serve` against nginx with the requests of `../shared/bench/run.sh server` (wrk, whole
# GETs of a 1 MiB file and 1 MiB ranges at random offsets of a SIZE_MIB file), but
# alternated: each round runs every server once, in turn, and the order flips every round,
# so a slow spell of a noisy machine or a warm-up costs every server alike. run.sh measures
# nginx first and durl after it, which on a 2-core machine moved the ratio by 10-20% on its own.
# Prints each round and the median of the per-round ratios.
#
# Run from the project root:  bench/serve.sh
# Environment: ROUNDS (default 5)  WRK_S (seconds per wrk run, default 5)  SIZE_MIB (default 1024)
#              DURL  (the binary; default target/release/durl, built here)
#              DURL_B (optional second binary, e.g. an older build: measured as "durl-b",
#                      so a change to the hot path can be told from noise)
#              SERVE_ARGS (extra `durl serve` options for both binaries, e.g. "--auth u:p")
set -u
ROUNDS=${ROUNDS:-5}
WRK_S=${WRK_S:-5}
SIZE_MIB=${SIZE_MIB:-1024}
[ -f Cargo.toml ] || { echo "run this from the project root" >&2; exit 2; }
for c in wrk nginx python3 bc; do
  command -v "$c" >/dev/null || { echo "missing: $c (apt-get install wrk nginx bc)" >&2; exit 2; }
done
if [ -z "${DURL:-}" ]; then cargo build --release --locked -q -p durl || exit 2; fi
durl=${DURL:-$(pwd)/target/release/durl}

work=$(mktemp -d)
. "$(dirname "$0")/nginx.sh"
mkdir -p "$work/www"
head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$work/www/big.bin"
head -c 1048576 /dev/urandom > "$work/www/one.bin"
start_nginx "$work/www" || exit 2
srv_pids=()
trap 'kill $ngx_pid "${srv_pids[@]}" 2>/dev/null; sleep 0.2; rm -rf "$work"' EXIT INT TERM

# start_durl NAME BINARY: starts it on a free port (quiet: nginx logs nothing either) and adds
# "NAME PORT" to the servers.
start_durl() {
  local port
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  # shellcheck disable=SC2086
  "$2" serve "$work/www" --bind 127.0.0.1 --port "$port" --quiet ${SERVE_ARGS:-} >"$work/serve-$port.log" 2>&1 &
  srv_pids+=($!)
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && { servers+=("$1 $port"); return 0; }; sleep 0.1; done
  echo "durl serve did not start: $(tail -n 3 "$work/serve-$port.log")" >&2; return 1
}
servers=("nginx $ngx_port")
start_durl durl "$durl" || exit 2
if [ -n "${DURL_B:-}" ]; then start_durl durl-b "$DURL_B" || exit 2; fi

cat > "$work/range.lua" <<EOF
local size = ${SIZE_MIB} * 1048576
math.randomseed(42)
request = function()
  local a = math.random(0, size - 1048576)
  return wrk.format("GET", nil, { ["Range"] = "bytes=" .. a .. "-" .. (a + 1048575) })
end
EOF
# rate URL [LUA]: req/s, or 0 when any answer was not 2xx or a socket failed.
rate() {
  wrk -t2 -c64 -d"${WRK_S}s" ${2:+-s "$2"} "$1" 2>&1 | awk '
    /Non-2xx|Socket errors/ {bad = 1}
    /Requests\/sec/ {r = $2}
    END {print (bad || r == "") ? 0 : r}'
}
# warm the page cache and every server once
for s in "${servers[@]}"; do set -- $s; rate "http://127.0.0.1:$2/one.bin" >/dev/null; done

: > "$work/rounds"
echo "round | order | $(for s in "${servers[@]}"; do set -- $s; printf '%s whole / range req/s | ' "$1"; done)"
for round in $(seq 1 "$ROUNDS"); do
  order=("${servers[@]}")
  if ((round % 2 == 0)); then
    order=(); for ((i = ${#servers[@]} - 1; i >= 0; i--)); do order+=("${servers[$i]}"); done
  fi
  line="$round |"
  for s in "${order[@]}"; do set -- $s; line+=" $1"; done
  line+=" |"
  for s in "${order[@]}"; do
    set -- $s
    w=$(rate "http://127.0.0.1:$2/one.bin")
    r=$(rate "http://127.0.0.1:$2/big.bin" "$work/range.lua")
    echo "$round $1 $w $r" >> "$work/rounds"
  done
  for s in "${servers[@]}"; do
    set -- $s
    line+=" $(awk -v r="$round" -v n="$1" '$1==r && $2==n {printf "%.0f / %.0f", $3, $4}' "$work/rounds") |"
  done
  echo "$line"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# ratio NAME COLUMN: the median over rounds of NAME's req/s divided by nginx's in the same round.
ratio() {
  awk -v n="$1" -v c="$2" '$2=="nginx" {g[$1]=$c} $2==n {d[$1]=$c}
    END {for (r in d) if (g[r] > 0) printf "%.3f\n", d[r] / g[r]}' "$work/rounds" | median
}
echo
echo "wrk -t2 -c64 -d${WRK_S}s, $ROUNDS alternated rounds; median of per-round ratios against nginx"
echo "| server | whole (1 MiB GET) | range (1 MiB at random offsets of $SIZE_MIB MiB) | peak RSS MiB |"
echo "|---|---|---|---|"
i=0
for s in "${servers[@]}"; do
  set -- $s
  [ "$1" = nginx ] && continue
  pid=${srv_pids[$i]}; i=$((i + 1))
  printf '| %s/nginx | %.2fx | %.2fx | %d |\n' "$1" "$(ratio "$1" 3)" "$(ratio "$1" 4)" \
    "$(( $(awk '/^VmHWM/{print $2}' "/proc/$pid/status") / 1024 ))"
done
