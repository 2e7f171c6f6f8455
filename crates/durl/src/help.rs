//! The long texts of `--help` (and of the man page, which clap_mangen makes from the same
//! command): exit codes, environment variables, examples.

/// After `durl --help`.
pub fn main() -> String {
    let mut text = String::from("Exit codes:\n");
    for (code, meaning) in crate::exit::TABLE {
        text.push_str(&format!("  {code:>3}  {meaning}\n"));
    }
    text.push_str(ENVIRONMENT);
    text.push_str(EXAMPLES);
    text
}

const ENVIRONMENT: &str = "
Environment:
  DURL_CONFIG          the config file (as --config)
  XDG_CONFIG_HOME      the config file is $XDG_CONFIG_HOME/durl/config (else ~/.config/durl/config)
  NETRC                the .netrc with logins, FTP and HTTP (else ~/.netrc; --netrc-file wins)
  http_proxy, HTTPS_PROXY, ALL_PROXY, NO_PROXY (https_proxy, all_proxy, no_proxy too)
                       proxies for http(s):// downloads and tus uploads (--proxy and
                       --noproxy replace them)
  DURL_LOG             diagnostics on stderr, a tracing filter such as debug or durl_fetch=trace
                       (default: warnings, and durl serve's access log)
  NO_COLOR             set to anything but \"\": no colours
";

const EXAMPLES: &str = "
Examples:
  durl get https://example.com/file.iso               saves file.iso; the same command continues it
  durl get -x 8 --limit-rate 2M URL                   8 connections, at most 2 MiB/s in all
  durl get -j 8 -i urls.txt                           a list, 8 files at a time
  durl put f.iso ftp://user@host/up/                  upload; the same command continues it
  durl serve ./public --port 8000                     serve a directory with Range support
  durl completions bash > ~/.local/share/bash-completion/completions/durl
  durl man > ~/.local/share/man/man1/durl.1          (durl man get: durl-get.1)
";

/// After `durl get --help`.
pub const GET: &str = "\
Schemes: http://, https:// and ftp:// (explicit FTPS with --ftp-ssl).

Coming from curl, wget or aria2c: -L, -O, -J are accepted (durl does that anyway), -s = -q,
-A = --user-agent, -e = --referer, -m = --max-time, --retry = --retries; -d DIR is the
directory (aria2c's -d, wget's -P) and -x N the connections per file (aria2c's -x).

Examples:
  durl get https://example.com/file.iso
  durl get -o debian.iso -d ~/Downloads 'https://example.com/dl?id=42'
  durl get -c https://example.com/file.iso          adopt a file left by curl or wget
  durl get --checksum sha256=9f86d0... URL
  durl get ftp://user@ftp.example.com/pub/f.iso
";

/// After `durl put --help`.
pub const PUT: &str = "\
Examples:
  durl put f.iso ftp://user:pass@ftp.example.com/up/
  durl put --force f.iso ftp://host/up/f.iso
  durl put f.iso https://host:8000/.durl/uploads/
  durl put -j 4 *.mp4 https://host:8000/.durl/uploads/
  durl put --meta directory=/photos a.jpg https://host:8000/.durl/uploads/
";
