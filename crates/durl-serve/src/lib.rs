//! durl-serve
