"""Drives `durl daemon` with aria2p (PyPI), the aria2 JSON-RPC client library nobody here wrote.

    python aria2p_drive.py PORT SECRET FAST_URL SLOW_URL

Prints one line per checked step (`ok STEP ...`); the Rust test (crates/durl/tests/it/interop/
aria2p.rs) reads them and compares the downloaded files byte for byte. Exits non-zero on the
first failed check.
"""

import sys
import threading
import time

import aria2p


def wait_for(what, check, secs=60):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def main():
    port, secret, fast, slow = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    api = aria2p.API(aria2p.Client(host="http://127.0.0.1", port=int(port), secret=secret))

    events = []
    lock = threading.Lock()

    def on(kind):
        def record(api_or_gid, gid=None):
            with lock:
                events.append((kind, gid if gid is not None else api_or_gid))
        return record

    api.listen_to_notifications(
        threaded=True,
        on_download_start=on("start"),
        on_download_pause=on("pause"),
        on_download_stop=on("stop"),
        on_download_complete=on("complete"),
        on_download_error=on("error"),
        timeout=1,
        handle_signals=False,
    )
    time.sleep(0.5)  # the WebSocket is open before the first download starts

    version = api.client.get_version()
    print("ok version", version["version"], flush=True)

    # Global options.
    assert api.set_global_options({"max-concurrent-downloads": "3"})
    assert api.get_global_options().max_concurrent_downloads == 3
    print("ok global-options", flush=True)

    # Add, let it complete.
    one = api.add_uris([fast], options={"out": "one.bin"})
    one = wait_for("one complete", lambda: (d := api.get_download(one.gid)).is_complete and d)
    print("ok complete", one.gid, one.files[0].path, one.total_length, flush=True)

    # Add paused, unpause, complete.
    two = api.add_uris([fast], options={"out": "two.bin", "pause": "true"})
    assert api.get_download(two.gid).is_paused, api.get_download(two.gid).status
    assert all(api.resume([two]))
    two = wait_for("two complete", lambda: (d := api.get_download(two.gid)).is_complete and d)
    print("ok unpaused-complete", two.gid, two.files[0].path, flush=True)

    # A slow one: pause while active, resume, then remove.
    three = api.add_uris([slow], options={"out": "three.bin"})
    wait_for("three active", lambda: api.get_download(three.gid).is_active)
    assert all(api.pause([three]))
    assert api.get_download(three.gid).is_paused
    assert all(api.resume([three]))
    wait_for("three active again", lambda: api.get_download(three.gid).is_active)
    stopped = api.client.tell_status(three.gid, ["status"])
    assert stopped["status"] == "active", stopped
    assert api.client.remove(three.gid) == three.gid
    assert api.get_download(three.gid).is_removed
    print("ok paused-resumed-removed", three.gid, flush=True)

    # multicall (aria2p's multicall2 builds system.multicall with the token in every call).
    answers = api.client.multicall2(
        [
            (api.client.TELL_STATUS, [one.gid, ["gid", "status"]]),
            (api.client.GET_GLOBAL_STAT, []),
            (api.client.GET_URIS, [two.gid]),
        ]
    )
    assert answers[0][0] == {"gid": one.gid, "status": "complete"}, answers
    assert int(answers[1][0]["numStopped"]) == 3, answers
    assert answers[2][0][0]["uri"] == fast, answers
    print("ok multicall", flush=True)

    stats = api.get_stats()
    assert stats.num_stopped == 3, stats.num_stopped
    listed = {d.gid: d.status for d in api.get_downloads()}
    assert listed == {one.gid: "complete", two.gid: "complete", three.gid: "removed"}, listed
    print("ok listed", flush=True)

    def seen(kind, gid):
        with lock:
            return (kind, gid) in events

    for kind, gid in [
        ("start", one.gid),
        ("complete", one.gid),
        ("complete", two.gid),
        ("pause", three.gid),
        ("stop", three.gid),
    ]:
        wait_for(f"{kind} notification for {gid}", lambda: seen(kind, gid), secs=10)
    print("ok notifications", flush=True)

    assert api.purge()
    assert api.get_downloads() == []
    print("ok purged", flush=True)
    api.stop_listening()
    print("done", flush=True)


if __name__ == "__main__":
    main()
