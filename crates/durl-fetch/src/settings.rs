//! The setters [`crate::GetRequest`] and [`crate::PutRequest`] share: how hard to try
//! (retries, back-off, stall and connect timeouts) and how to connect (headers, TLS roots,
//! FTPS). Both types hold fields of the same names; [`network_setters!`] writes the setters
//! once for both.

/// Emits the shared setters inside an `impl` of a request type with the fields `retries`,
/// `retry_delay`, `max_retry_delay`, `stall_timeout`, `connect_timeout`, `headers`,
/// `root_certificates`, `insecure` and `ftp_tls`.
macro_rules! network_setters {
    () => {
        /// Retries after consecutive retryable failures; an attempt that made progress
        /// resets the count.
        pub fn retries(mut self, n: u32) -> Self {
            self.retries = n;
            self
        }

        /// The first back-off delay; it doubles per failure (with jitter) up to `max`,
        /// which also caps a server's `Retry-After`.
        pub fn retry_delay(mut self, first: std::time::Duration, max: std::time::Duration) -> Self {
            self.retry_delay = first;
            self.max_retry_delay = max.max(first);
            self
        }

        /// How long a connection may move no data (or the server not answer) before it
        /// counts as stalled and is retried.
        pub fn stall_timeout(mut self, t: std::time::Duration) -> Self {
            self.stall_timeout = t;
            self
        }

        /// How long connecting (TCP and TLS) may take.
        pub fn connect_timeout(mut self, t: std::time::Duration) -> Self {
            self.connect_timeout = t;
            self
        }

        /// Extra headers for every HTTP request, e.g. `Authorization`.
        pub fn headers(mut self, headers: reqwest::header::HeaderMap) -> Self {
            self.headers = headers;
            self
        }

        /// Trust the PEM certificates in `path` besides the system roots (HTTPS, FTPS).
        pub fn root_certificate(mut self, path: impl AsRef<std::path::Path>) -> Self {
            self.root_certificates.push(path.as_ref().to_owned());
            self
        }

        /// Skip TLS certificate verification (HTTPS, FTPS).
        pub fn insecure(mut self, yes: bool) -> Self {
            self.insecure = yes;
            self
        }

        /// For `ftp://`: explicit FTPS (RFC 4217 `AUTH TLS` before login, protected data
        /// connections), trusting the same roots as HTTPS ([`Self::root_certificate`],
        /// [`Self::insecure`]). A server that refuses `AUTH TLS` is an error, never a
        /// fallback.
        pub fn ftp_tls(mut self, yes: bool) -> Self {
            self.ftp_tls = yes;
            self
        }
    };
}

pub(crate) use network_setters;
