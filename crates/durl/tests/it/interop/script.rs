//! A running interop script (node or python): its stdout lines as they come, SIGKILL on
//! demand, and SIGKILL on drop so that a failing test never leaves one behind.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::serve::wait_within;

pub struct Script {
    child: Child,
    lines: Receiver<String>,
    stderr: Option<JoinHandle<String>>,
    /// Every stdout line received so far, for failure messages.
    pub seen: Vec<String>,
}

impl Script {
    /// Spawns `cmd` with stdout and stderr piped (both read on their own threads, so the
    /// script never blocks on a full pipe) and stdin piped too: a server script exits when
    /// its stdin closes, i.e. when this process dies, whatever killed it.
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the script starts");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Self {
            child,
            lines,
            stderr: Some(stderr),
            seen: Vec::new(),
        }
    }

    /// The next stdout line for which `pick` returns something, within `limit`; panics
    /// with everything the script said if it ends or the time runs out first.
    pub fn wait_for<T>(&mut self, limit: Duration, mut pick: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = pick(&line);
                    self.seen.push(line);
                    if let Some(found) = found {
                        return found;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.fail(&format!("no such line within {limit:?}"))
                }
                Err(RecvTimeoutError::Disconnected) => self.fail("the script ended first"),
            }
        }
    }

    /// Whether the process has not exited yet.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGKILL, then reaps the process.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits up to `limit` for the script to exit; its status, every stdout line and stderr.
    pub fn finish(mut self, limit: Duration) -> (ExitStatus, Vec<String>, String) {
        let status = wait_within(&mut self.child, limit);
        // The pipes are at EOF once the process is gone (the scripts start no children).
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        let stderr = self.stderr.take().unwrap().join().unwrap_or_default();
        (status, std::mem::take(&mut self.seen), stderr)
    }

    fn fail(&mut self, why: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default());
        panic!(
            "{why}; stdout so far: {:?}; stderr: {}",
            self.seen,
            stderr.unwrap_or_default()
        );
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The number in a `WORD N …` progress line.
pub fn number(line: &str, word: &str) -> Option<u64> {
    let mut parts = line.split(' ');
    (parts.next()? == word).then_some(())?;
    parts.next()?.parse().ok()
}

/// A process the test started directly (e.g. `durl put`), killed and reaped on drop so that
/// a failing assertion never leaves it running.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
