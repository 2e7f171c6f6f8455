//! Reading an upload body under the rate floor: each window must bring `min_rate × window`
//! bytes or the body is cut (408), so a trickling client cannot hold its transfer slot at a
//! byte every few seconds. Used by both upload backends' transfers.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use tokio::time::Instant;

/// What the body gave next.
#[derive(Debug)]
pub(crate) enum Next {
    /// Data (never empty).
    Data(Bytes),
    /// The body ended.
    End,
    /// The body failed (the client went away): what arrived before counts.
    Cut,
    /// The body came slower than the floor.
    Slow,
}

/// The rate floor over one body.
#[derive(Debug)]
pub(crate) struct Pace {
    min_rate: u64,
    floor: u64,
    window: Duration,
    window_end: Instant,
    window_bytes: u64,
}

impl Pace {
    /// At least `min_rate` bytes per second (0: no floor) over windows of `window`.
    pub(crate) fn new(min_rate: u64, window: Duration) -> Self {
        Self {
            min_rate,
            floor: min_rate.saturating_mul(window.as_secs().max(1)),
            window,
            window_end: Instant::now() + window,
            window_bytes: 0,
        }
    }

    /// The next piece of `body`.
    pub(crate) async fn next<B>(&mut self, body: &mut B) -> Next
    where
        B: http_body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        loop {
            let next = tokio::time::timeout_at(self.window_end, body.frame()).await;
            if Instant::now() >= self.window_end {
                if self.min_rate > 0 && self.window_bytes < self.floor {
                    return Next::Slow;
                }
                self.window_end = Instant::now() + self.window;
                self.window_bytes = 0;
            }
            match next.ok() {
                None => {}
                Some(None) => return Next::End,
                Some(Some(Err(e))) => {
                    tracing::debug!(error = %e, "upload body cut");
                    return Next::Cut;
                }
                Some(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        self.window_bytes += data.len() as u64;
                        return Next::Data(data);
                    }
                }
            }
        }
    }
}
