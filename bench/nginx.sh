# Sourced by the scripts in bench/: start_nginx WWW starts nginx (sendfile, no access log) on a
# free loopback port serving WWW, sets $ngx_port, and stops it when the script exits.
# Needs $work (a temporary directory the caller removes).
start_nginx() {
  local www=$1
  mkdir -p "$work/ngx"
  chmod 755 "$work" "$www"; chmod 644 "$www"/*   # nginx workers run unprivileged
  ngx_port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  cat > "$work/ngx/nginx.conf" <<CONF
worker_processes 2;
daemon off;
pid $work/ngx/nginx.pid;
error_log $work/ngx/error.log;
events { worker_connections 4096; }
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path $work/ngx; proxy_temp_path $work/ngx; fastcgi_temp_path $work/ngx;
  uwsgi_temp_path $work/ngx; scgi_temp_path $work/ngx;
  server { listen 127.0.0.1:$ngx_port; root $www; }
}
CONF
  nginx -c "$work/ngx/nginx.conf" 2>"$work/ngx/start.log" &
  ngx_pid=$!
  trap 'kill $ngx_pid 2>/dev/null; sleep 0.2; rm -rf "$work"' EXIT INT TERM
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$ngx_port") 2>/dev/null && return 0; sleep 0.1; done
  echo "nginx did not start: $(cat "$work/ngx/start.log")" >&2; return 1
}

# median: the median of the numbers on stdin, one a line.
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
