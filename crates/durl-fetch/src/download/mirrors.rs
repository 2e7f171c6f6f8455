//! Where one file's bytes may come from: its URL and its mirrors.
//!
//! Requests go round-robin over the sources still in use. A source whose answer disagrees
//! with the version being fetched (another validator or length) is dropped at once, and one
//! that fails `MAX_FAILURES` times in a row is dropped too — as long as another source
//! remains; the last one is never dropped, so the ordinary rules (restart, give up) apply to
//! it. A source that refused to resume (an FTP server without `REST`) still serves requests
//! from byte 0, but a resume goes to another source while one that resumes is in use.

use std::sync::Mutex;

use url::Url;

/// Consecutive failures after which a source is dropped (if others remain).
const MAX_FAILURES: u32 = 3;

/// Why a source was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// Its length or validator differs from the version being fetched.
    Disagrees,
    /// It failed several times in a row.
    KeepsFailing,
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DropReason::Disagrees => "its length or validator differs from the others",
            DropReason::KeepsFailing => "it keeps failing",
        })
    }
}

#[derive(Debug)]
struct Source {
    url: Url,
    failures: u32,
    dropped: bool,
    /// It refused to resume: only requests from byte 0 go to it (while others resume).
    whole_only: bool,
}

/// The sources of one file.
#[derive(Debug)]
pub(crate) struct Sources {
    inner: Mutex<(Vec<Source>, usize)>,
}

impl Sources {
    pub(crate) fn new(url: &Url, mirrors: &[Url]) -> Sources {
        let list = std::iter::once(url)
            .chain(mirrors)
            .map(|u| Source {
                url: u.clone(),
                failures: 0,
                dropped: false,
                whole_only: false,
            })
            .collect();
        Sources {
            inner: Mutex::new((list, 0)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<Source>, usize)> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next source to use (round-robin over those still in use); for a request that
    /// resumes (`resume`: it starts after byte 0), one that has not refused to resume, while
    /// any is left.
    pub(crate) fn pick(&self, resume: bool) -> Url {
        let mut guard = self.lock();
        let (list, next) = &mut *guard;
        let avoid_whole_only = resume && list.iter().any(|s| !s.dropped && !s.whole_only);
        for _ in 0..list.len() {
            let i = *next % list.len();
            *next = next.wrapping_add(1);
            let unwanted = list[i].whole_only && avoid_whole_only;
            if !list[i].dropped && !unwanted {
                return list[i].url.clone();
            }
        }
        list[0].url.clone()
    }

    /// Whether `url` was dropped already.
    pub(crate) fn is_dropped(&self, url: &Url) -> bool {
        self.lock().0.iter().any(|s| &s.url == url && s.dropped)
    }

    /// A request to `url` succeeded.
    pub(crate) fn succeeded(&self, url: &Url) {
        if let Some(s) = self.lock().0.iter_mut().find(|s| &s.url == url) {
            s.failures = 0;
        }
    }

    /// A request to `url` failed; returns the reason if that dropped it.
    pub(crate) fn failed(&self, url: &Url) -> Option<DropReason> {
        let mut guard = self.lock();
        let live = guard.0.iter().filter(|s| !s.dropped).count();
        let s = guard.0.iter_mut().find(|s| &s.url == url && !s.dropped)?;
        s.failures += 1;
        (s.failures >= MAX_FAILURES && live > 1).then(|| {
            s.dropped = true;
            DropReason::KeepsFailing
        })
    }

    /// `url` refused to resume: from now on resumes go to other sources. True if a source in
    /// use can still resume (ask it rather than start over).
    pub(crate) fn refuses_resume(&self, url: &Url) -> bool {
        let mut guard = self.lock();
        if let Some(s) = guard.0.iter_mut().find(|s| &s.url == url) {
            s.whole_only = true;
        }
        guard.0.iter().any(|s| !s.dropped && !s.whole_only)
    }

    /// `url` answered with another version; true if it is (now or already) dropped, false
    /// if it is the last source in use.
    pub(crate) fn disagrees(&self, url: &Url) -> bool {
        let mut guard = self.lock();
        let live = guard.0.iter().filter(|s| !s.dropped).count();
        match guard.0.iter_mut().find(|s| &s.url == url) {
            Some(s) if s.dropped => true,
            Some(s) if live > 1 => {
                s.dropped = true;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn round_robin_drops_and_never_drops_the_last() {
        let s = Sources::new(&u("http://a/f"), &[u("http://b/f"), u("http://c/f")]);
        let picks: Vec<_> = (0..4)
            .map(|_| s.pick(false).host_str().unwrap().to_owned())
            .collect();
        assert_eq!(picks, ["a", "b", "c", "a"]);
        assert!(s.disagrees(&u("http://b/f")));
        let picks: Vec<_> = (0..4)
            .map(|_| s.pick(false).host_str().unwrap().to_owned())
            .collect();
        assert!(!picks.contains(&"b".to_owned()), "{picks:?}");
        assert_eq!(s.failed(&u("http://c/f")), None);
        s.succeeded(&u("http://c/f"));
        assert_eq!(s.failed(&u("http://c/f")), None);
        assert_eq!(s.failed(&u("http://c/f")), None);
        assert_eq!(s.failed(&u("http://c/f")), Some(DropReason::KeepsFailing));
        // Only "a" is left: it is never dropped.
        assert!(!s.disagrees(&u("http://a/f")));
        for _ in 0..5 {
            assert_eq!(s.failed(&u("http://a/f")), None);
        }
        assert_eq!(s.pick(false), u("http://a/f"));
    }

    #[test]
    fn resumes_avoid_a_source_that_refused_to_resume_while_another_resumes() {
        let s = Sources::new(&u("http://a/f"), &[u("http://b/f"), u("http://c/f")]);
        assert!(s.refuses_resume(&u("http://a/f")), "b and c still resume");
        let hosts = |resume| {
            (0..6)
                .map(|_| s.pick(resume).host_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert!(hosts(true).iter().all(|h| h != "a"));
        assert!(
            hosts(false).iter().any(|h| h == "a"),
            "a still serves from byte 0"
        );
        assert!(s.refuses_resume(&u("http://b/f")));
        assert!(hosts(true).iter().all(|h| h == "c"));
        // None left that resumes: the ordinary rules apply (round-robin, then a restart).
        assert!(!s.refuses_resume(&u("http://c/f")));
        assert_eq!(hosts(true).len(), 6);
        assert!(hosts(true).iter().any(|h| h == "a"));
    }
}
