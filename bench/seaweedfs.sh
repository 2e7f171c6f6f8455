# Sourced by bench/s3.sh and bench/s3-upload.sh: start_weed starts a real SeaweedFS (`weed
# server -s3`, from `bash .ci/setup`'s tests/interop/.venv or $WEED) on free loopback ports
# with one key/secret identity and the bucket $bucket, and sets $weed_pid, $endpoint and
# $sigv4 (curl's signing options). Needs $work (a temporary directory the caller removes); the
# caller's trap kills $weed_pid.
key=bench-key
secret=bench-secret
region=us-east-1
bucket=bench
weed=${WEED:-$(pwd)/tests/interop/.venv/bin/weed}

# A free loopback port P whose P+10000 is free too (SeaweedFS finds a peer's gRPC port at its
# HTTP port + 10000).
port_pair() {
  python3 -c '
import socket
while True:
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    if p + 10000 > 65535: continue
    b = socket.socket()
    try: b.bind(("127.0.0.1", p + 10000))
    except OSError: continue
    print(p); break'
}

start_weed() {
  [ -x "$weed" ] || { echo "missing: $weed (run bash .ci/setup)" >&2; return 1; }
  local master volume filer s3 ok=
  master=$(port_pair); volume=$(port_pair); filer=$(port_pair); s3=$(port_pair)
  mkdir -p "$work/data"
  printf '{"identities":[{"name":"bench","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","List","Write"]}]}' \
    "$key" "$secret" > "$work/s3.json"
  "$weed" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$work/data" \
    -master.port="$master" -master.port.grpc=$((master + 10000)) -master.volumeSizeLimitMB=1024 \
    -volume.port="$volume" -volume.port.grpc=$((volume + 10000)) -volume.max=16 \
    -filer -filer.port="$filer" -filer.port.grpc=$((filer + 10000)) \
    -s3 -s3.port="$s3" -s3.port.grpc=$((s3 + 10000)) -s3.port.iceberg=0 -s3.port.lance=0 \
    -metricsPort=0 -s3.config="$work/s3.json" > "$work/weed.log" 2>&1 &
  weed_pid=$!
  s3_port=$s3
  endpoint=http://127.0.0.1:$s3
  sigv4=(--aws-sigv4 "aws:amz:$region:s3" --user "$key:$secret" --noproxy '*')
  for _ in $(seq 1 300); do
    # The bucket; SeaweedFS takes it once its volume servers have registered.
    if curl -sf "${sigv4[@]}" -X PUT "$endpoint/$bucket" -o /dev/null 2>/dev/null ||
       curl -sf "${sigv4[@]}" "$endpoint/$bucket?list-type=2&max-keys=1" -o /dev/null 2>/dev/null; then
      ok=1; break
    fi
    kill -0 "$weed_pid" 2>/dev/null || break
    sleep 0.2
  done
  [ -n "$ok" ] || { echo "SeaweedFS did not start: $(tail -n 5 "$work/weed.log")" >&2; return 1; }
}
