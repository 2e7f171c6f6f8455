//! Integration tests for durl-serve: one test binary, real sockets on 127.0.0.1:0, the server
//! started in-process through `durl_serve::run` and stopped at the end of every test.
//!
//! reqwest is used for ordinary requests; raw `TcpStream`s for anything reqwest would
//! normalise or refuse to send (traversal spellings, malformed heads, slow clients).

// Test server, raw HTTP client and fixtures.
mod harness;

// Range requests: single ranges, clamping, suffixes, 416, malformed values, concurrency.
mod range;
// Preconditions: If-Match, If-None-Match, dates, If-Range; ETag changes on rewrite.
mod conditional;
// multipart/byteranges: layout, order, coalescing, abusive range lists.
mod multipart;
// HEAD mirrors GET; 405 for other methods.
mod head;
// Path traversal in every spelling, symlinks, sibling-prefix directories.
mod traversal;
// Limits and robustness: long heads, slowloris, keep-alive, bad requests, shutdown.
mod safety;
// Connections that hold slots without using them: PING-only HTTP/2, one address's share.
mod idlers;
// Basic auth, TLS (HTTP/1.1 and h2 over ALPN), directory listings, the upload page.
mod features;
// A site: index.html, dotfiles, the favicon, the listing page and the JSON listing.
mod site;
// RFC 9530 digests: Repr-Digest against sha256sum and curl, caching, background hashing.
mod digest;
// tus 1.0 uploads: the protocol, every status code, names.
mod tus;
// The default upload directory inside DIR: never reachable, planted links, the old default.
mod upload_dir;
// Uploads into a chosen directory: checks, links, conflicts (keep both, replace), rights.
mod upload_target;
// Disk space: promises for every write (chunked, deferred), a reserve, 507 on a fake disk.
mod tus_space;
// tus uploads: cut PATCHes, the per-upload lock, limits, expiry.
mod tus_limits;
// tus uploads: where a finished upload lands (planted links, long names, directories).
mod tus_place;
// Uploaded active files (HTML, SVG, ...) are sandboxed and never sniffed.
mod stored_xss;
// durl serve s3://: a real S3 store (SeaweedFS), two instances, ranges, conditions, listings,
// curl -C - and aria2c -x 8; an overwrite never mixes versions; bad stores refused at start.
mod objstore;
// durl serve s3://: how many requests the store receives per answer (one per plain GET), with
// every answer as before; an overwrite between a HEAD and the ranged GETs of several ranges.
mod objrequests;
// tus uploads into the S3 store through two instances: moved between them, raced (423),
// never replacing an object, the area unserved, termination and expiry aborting.
mod objupload;
