#!/usr/bin/env bash
# `durl daemon` under load: DOWNLOADS queued at once (one multicall of addUri), J running, from
# `durl serve` on loopback, the daemon's overall rate limited so that downloads keep running while
# `tellStatus` on random GIDs is timed over one keep-alive connection (CALLS calls). Prints the
# daemon's RSS (now and peak), the tellStatus latency (p50, p99, max) and how many downloads
# completed meanwhile; targets: RSS <= 64 MiB, p99 < 20 ms.
#
# Run from the project root:  bench/daemon.sh
# Environment: DOWNLOADS (default 1000)  J (default 16)  SIZE_MIB (default 4)
#              LIMIT (overall rate, default 64M)  CALLS (default 3000)
#              DURL (another binary; default: target/release/durl, built here)
set -u
DOWNLOADS=${DOWNLOADS:-1000}
J=${J:-16}
SIZE_MIB=${SIZE_MIB:-4}
LIMIT=${LIMIT:-64M}
CALLS=${CALLS:-3000}
[ -f Cargo.toml ] || { echo "run this from the project root" >&2; exit 2; }
command -v python3 >/dev/null || { echo "missing: python3" >&2; exit 2; }
if [ -z "${DURL:-}" ]; then cargo build --release --locked -q -p durl || exit 2; fi
durl=${DURL:-$(pwd)/target/release/durl}

work=$(mktemp -d)
mkdir -p "$work/www" "$work/dl" "$work/state"
head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$work/www/f.bin"
# The file server: durl serve (its own process, so the daemon's RSS is the daemon's alone).
"$durl" serve "$work/www" --port 0 --quiet > "$work/serve.out" 2>&1 &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null; sleep 0.2; rm -rf "$work"' EXIT INT TERM
for _ in $(seq 1 100); do grep -q http "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
serve_port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$work/serve.out" | head -1)
[ -n "$serve_port" ] || { echo "durl serve did not start: $(cat "$work/serve.out")" >&2; exit 2; }

"$durl" daemon --port 0 --state-dir "$work/state" --dir "$work/dl" -j "$J" \
    --limit-rate "$LIMIT" > "$work/daemon.out" 2> "$work/daemon.err" &
daemon_pid=$!
trap 'kill $daemon_pid $serve_pid 2>/dev/null; sleep 0.5; rm -rf "$work"' EXIT INT TERM
for _ in $(seq 1 100); do grep -q http "$work/daemon.out" 2>/dev/null && break; sleep 0.1; done
addr=$(sed -n 's|.*http://\([^/]*\)/ .*|\1|p' "$work/daemon.out" | head -1)
[ -n "$addr" ] || { echo "the daemon did not start: $(cat "$work/daemon.err")" >&2; exit 2; }

python3 - "$addr" "$serve_port" "$DOWNLOADS" "$CALLS" "$daemon_pid" <<'PY'
import http.client, json, random, sys, time
addr, port, n, calls, pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
host, p = addr.rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(p), timeout=600)
def call(method, params):
    conn.request("POST", "/jsonrpc", json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
                 {"Content-Type": "application/json"})
    answer = json.loads(conn.getresponse().read())
    if "error" in answer:
        raise SystemExit(f"{method}: {answer['error']}")
    return answer["result"]
def rss():
    fields = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status"))
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
url = f"http://127.0.0.1:{port}/f.bin"
t = time.monotonic()
adds = [{"methodName": "aria2.addUri", "params": [[url], {"out": f"f{i}.bin"}]} for i in range(n)]
gids = [r[0] for r in call("system.multicall", [adds])]
print(f"queued {len(gids)} downloads in {time.monotonic() - t:.2f} s (one multicall, each add committed)")
time.sleep(2)
lat = []
for _ in range(calls):
    g = random.choice(gids)
    t = time.perf_counter()
    call("aria2.tellStatus", [g])
    lat.append((time.perf_counter() - t) * 1000)
lat.sort()
stat = call("aria2.getGlobalStat", [])
now, peak = rss()
q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))]
print(f"tellStatus over {calls} calls: p50 {q(0.5):.2f} ms, p99 {q(0.99):.2f} ms, max {lat[-1]:.2f} ms "
      f"(target p99 < 20 ms)")
print(f"while: {stat['numActive']} active, {stat['numWaiting']} waiting, {stat['numStopped']} done, "
      f"{int(stat['downloadSpeed']) / 1048576:.1f} MiB/s")
print(f"daemon RSS {now:.1f} MiB, peak {peak:.1f} MiB (target <= 64 MiB)")
if int(stat["numActive"]) == 0:
    raise SystemExit("nothing was running while tellStatus was timed")
PY
