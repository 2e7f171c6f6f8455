//! durl-fetch
