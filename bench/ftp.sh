#!/usr/bin/env bash
# FTP download of one SIZE_MIB file from a real vsftpd on loopback (anonymous, a temporary
# root): `durl get`, `durl get -x 4` and `curl -o`, RUNS interleaved runs each, into OUTDIR
# (default: a temporary directory on disk; OUTDIR=/dev/shm/… takes the disk out). Prints
# best and median MB/s and checks every output byte for byte.
#
# Run from the project root:  bench/ftp.sh
# Environment: SIZE_MIB (default 1024)  RUNS (default 3)  OUTDIR  DURL (another binary)
set -u
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
[ -f Cargo.toml ] || { echo "run this from the project root" >&2; exit 2; }
vsftpd=$(command -v vsftpd || ls /usr/sbin/vsftpd 2>/dev/null)
for c in "$vsftpd" curl bc python3; do command -v "$c" >/dev/null || { echo "missing: $c (apt-get install vsftpd curl bc)" >&2; exit 2; }; done
if [ -z "${DURL:-}" ]; then cargo build --release --locked -q -p durl || exit 2; fi
durl=${DURL:-$(pwd)/target/release/durl}

work=$(mktemp -d)
vpid=
trap '[ -n "$vpid" ] && kill $vpid 2>/dev/null; rm -rf "$work"; [ -n "${OUTDIR:-}" ] && rmdir "$OUTDIR" 2>/dev/null' EXIT INT TERM
mkdir -p "$work/root" "$work/empty"
chmod 755 "$work" "$work/root" "$work/empty"
head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$work/root/big.bin"; chmod 644 "$work/root/big.bin"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat > "$work/vsftpd.conf" <<CONF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$port
background=NO
anonymous_enable=YES
local_enable=NO
write_enable=NO
anon_root=$work/root
no_anon_password=YES
pasv_enable=YES
pasv_min_port=40000
pasv_max_port=49999
pasv_address=127.0.0.1
secure_chroot_dir=$work/empty
seccomp_sandbox=NO
max_per_ip=0
max_clients=0
CONF
"$vsftpd" "$work/vsftpd.conf" & vpid=$!
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
url=ftp://127.0.0.1:$port/big.bin
out=${OUTDIR:-$work/out}; mkdir -p "$out"

: > "$work/runs"
for _ in $(seq 1 "$RUNS"); do
  for t in "curl|curl -fsS -o $out/big.bin $url" "durl|$durl get -q -o $out/big.bin $url" "durl-x4|$durl get -q -x 4 -o $out/big.bin $url"; do
    name=${t%%|*}; cmd=${t#*|}
    rm -f "$out/big.bin"; sync
    t0=$(date +%s.%N); bash -c "$cmd"; rc=$?; t1=$(date +%s.%N)
    ok=yes; { [ $rc -eq 0 ] && cmp -s "$out/big.bin" "$work/root/big.bin"; } || ok="NO(rc=$rc)"
    echo "$name $(echo "$t1 - $t0" | bc -l) $ok" >> "$work/runs"
  done
done
rm -f "$out/big.bin"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mbps() { echo "$SIZE_MIB * 1.048576 / $1" | bc -l; }
curl_best=$(awk '$1=="curl" {print $2}' "$work/runs" | sort -n | head -n 1)
echo
echo "ftp: $SIZE_MIB MiB from vsftpd on loopback into $( [ -n "${OUTDIR:-}" ] && [ "${OUTDIR#/dev/shm}" != "$OUTDIR" ] && echo tmpfs || echo disk ), $RUNS interleaved runs"
echo "| tool | best MB/s | vs curl | median MB/s | exact |"
echo "|---|---|---|---|---|"
for n in curl durl durl-x4; do
  b=$(awk -v n=$n '$1==n {print $2}' "$work/runs" | sort -n | head -n 1)
  m=$(awk -v n=$n '$1==n {print $2}' "$work/runs" | median)
  ok=$(awk -v n=$n '$1==n && $3!="yes" {print $3; exit}' "$work/runs")
  printf '| %s | %.0f | %.2f | %.0f | %s |\n' "$n" "$(mbps "$b")" "$(echo "$curl_best / $b" | bc -l)" "$(mbps "$m")" "${ok:-yes}"
done
