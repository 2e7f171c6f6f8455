//! One client connection: read request heads, answer them, keep the
//! connection alive or close it (cleanly or abortively) as the plan says.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, sleep, sleep_until};

use crate::corpus::{CHUNK, pattern_bytes};
use crate::request::{MAX_HEAD, ParseError, find_head_end, parse_head};
use crate::response::GARBAGE_SEED;
use crate::response::{Delivery, Framing, Plan, error_plan, head_bytes, plan};
use crate::state::{Served, Shared, path_key};
use crate::tls::Transport;

/// How long a closing connection keeps draining what the client sends.
const LINGER: Duration = Duration::from_secs(2);

/// How a response ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// Ready for the next request.
    KeepAlive,
    /// Close with FIN.
    Fin,
    /// Close with RST.
    Reset,
}

/// Why no request head could be read.
enum HeadError {
    /// The peer closed the connection (possibly mid-head).
    Eof,
    /// The head exceeds [`MAX_HEAD`].
    TooLarge,
    /// A socket error.
    Io,
}

/// Reads one request head into a buffer of its own, leaving any following
/// (pipelined) bytes in `buf`.
async fn read_head<S: Transport>(stream: &mut S, buf: &mut Vec<u8>) -> Result<Vec<u8>, HeadError> {
    let mut tmp = [0u8; 8192];
    loop {
        if let Some(end) = find_head_end(buf) {
            if end > MAX_HEAD {
                return Err(HeadError::TooLarge);
            }
            return Ok(buf.drain(..end).collect());
        }
        if buf.len() > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        match stream.read(&mut tmp).await {
            Ok(0) => return Err(HeadError::Eof),
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(_) => return Err(HeadError::Io),
        }
    }
}

/// Writes all of `data`, reporting body bytes to `count`. Each write is
/// counted *before* it is attempted and corrected afterwards, so the count
/// never lags behind what a client may already have read; a connection cut
/// midway still ends up counting exactly what went out.
async fn write_counted<S: Transport>(
    s: &mut S,
    data: &[u8],
    count: &mut impl FnMut(i64),
) -> io::Result<()> {
    let mut off = 0;
    while off < data.len() {
        let attempt = data.len() - off;
        count(attempt as i64);
        let result = s.write(&data[off..]).await;
        let written = *result.as_ref().unwrap_or(&0);
        if written < attempt {
            count(-((attempt - written) as i64));
        }
        match result? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => off += n,
        }
    }
    Ok(())
}

/// Writes the head and the body of `plan`, applying its delivery fault,
/// framing and rate limit. `count` receives body bytes as they are written.
async fn write_response<S: Transport>(
    s: &mut S,
    plan: &Plan,
    count: &mut impl FnMut(i64),
) -> io::Result<End> {
    s.write_all(&head_bytes(plan)).await?;
    let total = plan.payload.len();
    let limit = match plan.delivery {
        Delivery::Cut(k) | Delivery::Reset(k) => k.min(total),
        _ => total,
    };
    let mut stall = match plan.delivery {
        Delivery::Stall(k, d) => Some((k.min(total), d)),
        _ => None,
    };
    let mut chunk = match plan.framing {
        Framing::Chunked => total.div_ceil(4).clamp(1, CHUNK),
        _ => CHUNK,
    };
    if let Some(rate) = plan.rate_limit {
        chunk = chunk.min((rate / 10).max(1));
    }
    let mut clock = Instant::now();
    let mut sent = 0;
    loop {
        if let Some((at, pause)) = stall
            && sent == at
        {
            s.flush().await?;
            sleep(pause).await;
            stall = None;
            // The pause is not part of the throttled transfer.
            clock += pause;
        }
        if sent >= limit {
            break;
        }
        let mut n = chunk.min(limit - sent);
        if let Some((at, _)) = stall {
            n = n.min(at - sent);
        }
        let data = plan.payload.chunk(sent, n);
        if plan.framing == Framing::Chunked {
            s.write_all(format!("{n:x}\r\n").as_bytes()).await?;
            write_counted(s, &data, count).await?;
            s.write_all(b"\r\n").await?;
        } else {
            write_counted(s, &data, count).await?;
        }
        s.flush().await?;
        sent += n;
        if let Some(rate) = plan.rate_limit {
            sleep_until(clock + Duration::from_secs_f64(sent as f64 / rate as f64)).await;
        }
    }
    match plan.delivery {
        Delivery::Cut(_) => return Ok(End::Fin),
        Delivery::Reset(_) => return Ok(End::Reset),
        Delivery::Long(extra) => {
            let mut written = 0;
            while written < extra {
                let n = CHUNK.min(extra - written);
                write_counted(s, &pattern_bytes(GARBAGE_SEED, written..written + n), count).await?;
                written += n;
            }
            s.flush().await?;
            return Ok(End::Fin);
        }
        Delivery::Normal | Delivery::Stall(..) => {}
    }
    if plan.framing == Framing::Chunked && !plan.no_body {
        s.write_all(b"0\r\n\r\n").await?;
    }
    s.flush().await?;
    Ok(if plan.close { End::Fin } else { End::KeepAlive })
}

/// Closes gracefully: sends FIN (and `close_notify` over TLS), then reads and
/// discards what the client still sends, for a bounded time, so unread
/// request bytes do not turn the close into a reset that could destroy the
/// response before the client reads it.
async fn lingering_close<S: Transport>(mut stream: S) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 8192];
    let drain = async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// Sends an error response that does not belong to any path, then closes.
async fn reject<S: Transport>(mut stream: S, status: u16, body: &'static str) {
    let plan = error_plan(status, body);
    let mut ignore = |_| {};
    if write_response(&mut stream, &plan, &mut ignore)
        .await
        .is_ok()
    {
        lingering_close(stream).await;
    }
}

/// Serves requests on one connection until it closes.
pub(crate) async fn serve<S: Transport>(mut stream: S, shared: Arc<Shared>) {
    let mut buf = Vec::with_capacity(8192);
    loop {
        let head = match read_head(&mut stream, &mut buf).await {
            Ok(head) => head,
            Err(HeadError::TooLarge) => {
                return reject(stream, 431, "request head too large\n").await;
            }
            Err(HeadError::Eof | HeadError::Io) => return,
        };
        let req = match parse_head(&head) {
            Ok(req) => req,
            Err(ParseError::Malformed) => return reject(stream, 400, "bad request\n").await,
            Err(ParseError::Version) => return reject(stream, 505, "HTTP/1.1 only\n").await,
        };
        let key = path_key(&req.target).to_owned();
        let (resource, fault) = shared.lookup(&req.method, &key);
        let plan = plan(&req, resource.as_ref(), fault.as_ref());
        let index = shared.record(Served {
            method: req.method.clone(),
            path: req.target.clone(),
            headers: req.headers.clone(),
            status: plan.status,
            body_bytes: 0,
        });
        let mut count = |n| shared.add_bytes(index, &key, n);
        match write_response(&mut stream, &plan, &mut count).await {
            Ok(End::KeepAlive) => {}
            Ok(End::Fin) => return lingering_close(stream).await,
            Ok(End::Reset) => {
                let _ = stream.tcp().set_zero_linger();
                return;
            }
            // Typically the client went away: stop, keeping what was counted.
            Err(_) => return,
        }
    }
}
