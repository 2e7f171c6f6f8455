//! Integration tests of `durl_fetch::get` against the fault-injecting test server.
//! One binary; modules by behaviour.

mod auth; // HTTP Basic credentials: -u, .netrc, the URL; only to the origin named
mod cdn; // CDNs that answer If-Range with 200: asked again with Range alone, validators checked
mod digest; // RFC 9530: Repr-Digest asked for, recorded in the state, verified before the rename
mod faults; // transport faults: cuts, resets, stalls, 5xx, long/short bodies, framing
mod ftp; // ftp:// against a real vsftpd: download, REST resume, changed remote, errors, -x
mod ftp_adopt; // ftp:// -c: an existing file adopted after its tail is read back and compared
mod ftp_faults; // ftp:// against the testkit FTP server: cuts, refused REST, lying SIZE, logins
mod ftp_put; // ftp:// uploads and FTPS against a real vsftpd: resume, refusals, certificates
mod hostile; // planted links and special files, long and bidi names, header leaks
mod local; // the local side: locks, existing outputs, adoption, cancellation, > 4 GiB
mod mirrors; // segments from several mirrors; disagreeing or failing mirrors are dropped
mod naming;
mod proxy; // forward HTTP and SOCKS5 proxies from the testkit, no_proxy // file names from Content-Disposition and URLs
mod resume; // validated resume: If-Range, Content-Range checks, 200 and 416 handling
mod split; // several connections per file: planning, stealing, faults, resume with holes
mod state_files; // state files of formats 1 and 2 (fixtures) resumed; format 3 written
mod support;
mod tls; // HTTPS with a test CA
mod tus; // http:// uploads (tus 1.0) to durl-serve and a scripted server: resume, restarts, checksums
mod validatorless; // no strong validator: the bytes before the resume point are compared
mod wrong_file; // the two wrong-file regressions: a 206 longer than its Content-Range; a single stream over holes
