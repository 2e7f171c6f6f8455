//! One FTP control connection of [`FtpServer`](crate::FtpServer): the command loop and the
//! passive data connections.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::ftp_files::{FtpFault, Retr, Shared, key};

/// The longest command line read (RFC 959 has no limit; 4 KiB is plenty for tests).
const MAX_LINE: u64 = 4096;
/// How long a `RETR` waits for the client to open the passive data connection.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes per write on the data connection.
const BLOCK: usize = 64 << 10;

/// Serves one control connection until `QUIT`, EOF or an error.
pub(crate) async fn session(tcp: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = tcp.into_split();
    let mut lines = BufReader::new(read);
    let mut conn = Conn {
        shared,
        user: None,
        logged_in: false,
        rest: 0,
        passive: None,
    };
    if reply(&mut write, "220 durl-testkit FTP server ready.")
        .await
        .is_err()
    {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        match (&mut lines).take(MAX_LINE).read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = line.trim_end_matches(['\r', '\n']);
        let (verb, arg) = text.split_once(' ').unwrap_or((text, ""));
        let verb = verb.to_ascii_uppercase();
        conn.shared.lock().commands.push(if verb == "PASS" {
            "PASS ***".to_owned()
        } else {
            text.to_owned()
        });
        let answer = conn.command(&verb, arg, &mut write).await;
        let quit = verb == "QUIT";
        if reply(&mut write, &answer).await.is_err() || quit {
            return;
        }
    }
}

async fn reply(w: &mut (impl AsyncWrite + Unpin), text: &str) -> std::io::Result<()> {
    w.write_all(format!("{text}\r\n").as_bytes()).await?;
    w.flush().await
}

struct Conn {
    shared: Arc<Shared>,
    user: Option<String>,
    logged_in: bool,
    /// The offset of the next `RETR` (RFC 3659 §5.3: `REST` applies to the next transfer).
    rest: u64,
    passive: Option<TcpListener>,
}

impl Conn {
    /// Runs one command; returns its (final) reply. `RETR` writes its preliminary `150`
    /// itself.
    async fn command(
        &mut self,
        verb: &str,
        arg: &str,
        w: &mut (impl AsyncWrite + Unpin),
    ) -> String {
        match verb {
            "USER" => {
                self.user = Some(arg.to_owned());
                self.logged_in = false;
                return "331 Please specify the password.".into();
            }
            "PASS" => {
                let allowed = match &self.shared.lock().login {
                    None => true,
                    Some((user, password)) => {
                        self.user.as_deref() == Some(user.as_str()) && arg == password
                    }
                };
                self.logged_in = allowed && self.user.is_some();
                return if self.logged_in {
                    "230 Login successful.".into()
                } else {
                    "530 Login incorrect.".into()
                };
            }
            "QUIT" => return "221 Goodbye.".into(),
            // RFC 2389 §3.2: one feature per line, each indented by a space.
            "FEAT" => {
                return "211-Features:\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n211 End"
                    .into();
            }
            _ if !self.logged_in => return "530 Please login with USER and PASS.".into(),
            _ => {}
        }
        match verb {
            "TYPE" if arg.eq_ignore_ascii_case("I") => "200 Switching to Binary mode.".into(),
            "TYPE" => "504 Only binary mode here.".into(),
            "SYST" => "215 UNIX Type: L8".into(),
            "PWD" => "257 \"/\" is the current directory".into(),
            "NOOP" => "200 NOOP ok.".into(),
            "ABOR" => "225 No transfer to ABOR.".into(),
            "EPSV" | "PASV" => match TcpListener::bind("127.0.0.1:0").await {
                Ok(listener) => {
                    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
                    self.passive = Some(listener);
                    if verb == "EPSV" {
                        // RFC 2428 §3.
                        format!("229 Entering Extended Passive Mode (|||{port}|)")
                    } else {
                        let (hi, lo) = (port >> 8, port & 0xff);
                        format!("227 Entering Passive Mode (127,0,0,1,{hi},{lo}).")
                    }
                }
                Err(_) => "425 Cannot open a passive listener.".into(),
            },
            "SIZE" => {
                let inner = self.shared.lock();
                match (inner.size_lies.get(key(arg)), inner.files.get(key(arg))) {
                    (Some(lie), Some(_)) => format!("213 {lie}"),
                    (None, Some(f)) => format!("213 {}", f.body.len()),
                    _ => "550 Could not get file size.".into(),
                }
            }
            "MDTM" => match self.shared.lock().files.get(key(arg)) {
                Some(f) => format!("213 {}", f.mdtm),
                None => "550 Could not get file modification time.".into(),
            },
            "REST" => {
                if self.shared.lock().refuse_rest {
                    return "502 REST not implemented.".into();
                }
                match arg.trim().parse::<u64>() {
                    Ok(n) => {
                        self.rest = n;
                        format!("350 Restart position accepted ({n}).")
                    }
                    // RFC 3659 §5.4: 501 for a malformed marker.
                    Err(_) => "501 REST needs a number.".into(),
                }
            }
            "RETR" => self.retr(arg, w).await,
            _ => "502 Command not implemented.".into(),
        }
    }

    async fn retr(&mut self, arg: &str, w: &mut (impl AsyncWrite + Unpin)) -> String {
        let offset = std::mem::take(&mut self.rest);
        let Some(listener) = self.passive.take() else {
            return "425 Use PASV or EPSV first.".into();
        };
        let path = key(arg).to_owned();
        let (file, fault) = {
            let mut inner = self.shared.lock();
            let Some(file) = inner.files.get(&path).cloned() else {
                return "550 Failed to open file.".into();
            };
            let one_shot = inner.one_shot.get_mut(&path).and_then(|q| q.pop_front());
            (
                file,
                one_shot.or_else(|| inner.persistent.get(&path).cloned()),
            )
        };
        if let Some(FtpFault::Refuse(code, text)) = fault {
            return format!("{code} {text}");
        }
        let len = file.body.len() as u64;
        let start = offset.min(len);
        let opening = format!("150 Opening BINARY mode data connection for {path} ({len} bytes).");
        if reply(w, &opening).await.is_err() {
            return "426 Control connection lost.".into();
        }
        let data = match tokio::time::timeout(ACCEPT_TIMEOUT, listener.accept()).await {
            Ok(Ok((tcp, _))) => tcp,
            _ => return "425 Failed to establish connection.".into(),
        };
        let index = {
            let mut inner = self.shared.lock();
            inner.retrs.push(Retr {
                path: path.clone(),
                offset,
                sent: 0,
            });
            inner.retrs.len() - 1
        };
        let body = file.body.slice(start as usize..);
        let (cut, stall) = match fault {
            Some(FtpFault::CutAfter(k)) => (Some(k), None),
            Some(FtpFault::StallAfter(k, pause)) => (None, Some((k, pause))),
            _ => (None, None),
        };
        match self.send(data, &body, cut, stall, index).await {
            Ok(true) => "226 Transfer complete.".into(),
            Ok(false) => "426 Connection closed; transfer aborted.".into(),
            Err(_) => "426 Failure writing network stream.".into(),
        }
    }

    /// Writes `body` on the data connection; `Ok(false)` when cut on purpose.
    async fn send(
        &self,
        mut data: impl AsyncWrite + AsyncRead + Unpin,
        body: &[u8],
        cut: Option<u64>,
        mut stall: Option<(u64, Duration)>,
        index: usize,
    ) -> std::io::Result<bool> {
        let limit = cut.unwrap_or(u64::MAX).min(body.len() as u64) as usize;
        let mut at = 0usize;
        while at < limit {
            let mut end = (at + BLOCK).min(limit);
            if let Some((k, _)) = stall {
                end = end.min(k as usize).max(at);
                if end == at {
                    let (_, pause) = stall.take().expect("checked");
                    tokio::time::sleep(pause).await;
                    continue;
                }
            }
            data.write_all(&body[at..end]).await?;
            self.shared.lock().retrs[index].sent += (end - at) as u64;
            at = end;
        }
        data.shutdown().await?;
        Ok(cut.is_none_or(|k| k >= body.len() as u64))
    }
}
