#!/usr/bin/env bash
# The aria2p command-line tool (PyPI aria2p) against `durl daemon`:
#   aria2p_cli.sh PORT SECRET URL
# adds URL paused, lists it, resumes it, waits until it is complete, then purges.
set -euo pipefail
cd "$(dirname "$0")"
port=$1 secret=$2 url=$3
cli() { .venv/bin/aria2p --port "$port" --secret "$secret" "$@"; }
cli add "$url" -o "pause=true;out=cli.bin"
gid=$(cli call tellWaiting -J '[0, 10, ["gid"]]' | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)[0]["gid"])')
echo "added $gid"
cli show | grep -q "$gid" && echo "shown $gid"
cli resume "$gid"
for _ in $(seq 1 600); do
    status=$(cli call tellStatus -J "[\"$gid\", [\"status\"]]")
    if [[ $status == *complete* ]]; then
        echo "complete $gid"
        break
    fi
    sleep 0.1
done
cli purge
echo "purged"
