"""tuspy (https://github.com/tus/tus-py-client) uploading one file, for durl's interop tests.

    python tuspy_upload.py ENDPOINT FILE --chunk-size N [--store DB] [--filename NAME]
                           [--pause SECS] [--checksum] [--header 'NAME: VALUE']...
                           [--url UPLOAD_URL] [--retries N]

With --store, tuspy remembers the upload URL in the TinyDB file DB (its own FileStorage,
store_url=True), so a second run after a kill continues the same upload: tuspy finds the
URL by the file's fingerprint and asks the server for the offset (HEAD).

Prints on stdout, one line each, flushed at once:
    start OFFSET URL      the offset tuspy starts from (0 for a new upload)
    offset OFFSET         after every chunk, the Upload-Offset the server answered
    done URL              the server holds the whole file
--pause sleeps between chunks so that a test can interrupt the upload mid-way.
--checksum sends every chunk with Upload-Checksum (tuspy's upload_checksum, sha1).
--header adds a header to every request (TusClient's headers), e.g. Authorization.
--url continues the upload at UPLOAD_URL (e.g. the same path on another server instance):
tuspy asks that server for the offset (HEAD) and sends the rest.
--retries is how often tuspy asks again after a refused chunk (default 3, a second apart).
"""

import argparse
import os
import sys
import time

from tusclient import client
from tusclient.storage import filestorage


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint")
    parser.add_argument("file")
    parser.add_argument("--chunk-size", type=int, required=True)
    parser.add_argument("--store")
    parser.add_argument("--filename")
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--checksum", action="store_true")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--url")
    parser.add_argument("--retries", type=int, default=3)
    args = parser.parse_args()

    metadata = {"filename": args.filename or os.path.basename(args.file)}
    storage = filestorage.FileStorage(args.store) if args.store else None
    headers = dict(h.split(": ", 1) for h in args.header)
    uploader = client.TusClient(args.endpoint, headers=headers).uploader(
        args.file,
        chunk_size=args.chunk_size,
        metadata=metadata,
        store_url=storage is not None,
        url_storage=storage,
        upload_checksum=args.checksum,
        url=args.url,
        # A killed run's PATCH may hold the upload for a moment (423): ask again.
        retries=args.retries,
        retry_delay=1,
    )
    if uploader.url is None:
        # A new upload: create it now (POST) so that the URL is stored before any byte.
        uploader.set_url(uploader.create_url())
        uploader.offset = 0
    print(f"start {uploader.offset} {uploader.url}", flush=True)
    size = uploader.get_file_size()
    while uploader.offset < size:
        uploader.upload_chunk()
        print(f"offset {uploader.offset}", flush=True)
        if args.pause and uploader.offset < size:
            time.sleep(args.pause)
    print(f"done {uploader.url}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
