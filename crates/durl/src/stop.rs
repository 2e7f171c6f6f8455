//! Why a run was cancelled: a signal (SIGINT, SIGTERM, SIGHUP) or the `--max-time` deadline.
//! Either cancels the one token every request holds; the partial is checkpointed by the engine.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use durl_fetch::CancellationToken;

use crate::exit;

/// The run's cancel token and the exit code of whatever cancelled it first.
#[derive(Debug, Clone)]
pub struct Stop {
    pub cancel: CancellationToken,
    code: Arc<AtomicU8>,
    max_time: Option<Duration>,
}

impl Stop {
    /// A token that `--max-time` (if given) will cancel.
    pub fn new(max_time: Option<Duration>) -> Stop {
        Stop {
            cancel: CancellationToken::new(),
            code: Arc::new(AtomicU8::new(0)),
            max_time,
        }
    }

    /// The runtime of a transfer command (two worker threads), with this stop's signal
    /// handlers and deadline already running on it.
    pub fn runtime(&self) -> anyhow::Result<tokio::runtime::Runtime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
        self.start(&runtime);
        Ok(runtime)
    }

    /// Starts watching the signals and the deadline on `runtime`.
    pub fn start(&self, runtime: &tokio::runtime::Runtime) {
        runtime.spawn(watch_signals(self.clone()));
        if let Some(limit) = self.max_time {
            let stop = self.clone();
            runtime.spawn(async move {
                tokio::time::sleep(limit).await;
                stop.cancel_with(exit::NETWORK);
            });
        }
    }

    fn cancel_with(&self, code: u8) {
        let _ = self
            .code
            .compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
        self.cancel.cancel();
    }

    /// The exit code for a run that ended interrupted.
    pub fn code(&self) -> u8 {
        match self.code.load(Ordering::SeqCst) {
            0 => exit::SIGINT,
            code => code,
        }
    }

    /// "--max-time 3 s expired" when the deadline cancelled the run.
    pub fn expired(&self) -> Option<String> {
        let limit = self.max_time?;
        (self.code.load(Ordering::SeqCst) == exit::NETWORK)
            .then(|| format!("--max-time {} s expired", limit.as_secs_f64()))
    }
}

/// Cancels the run on SIGINT, SIGTERM or SIGHUP (a closed terminal) and remembers which
/// arrived.
async fn watch_signals(stop: Stop) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    let code = tokio::select! {
        _ = tokio::signal::ctrl_c() => exit::SIGINT,
        _ = term.recv() => exit::SIGTERM,
        _ = hup.recv() => exit::SIGHUP,
    };
    stop.cancel_with(code);
}
