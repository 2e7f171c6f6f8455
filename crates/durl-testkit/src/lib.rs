//! durl-testkit
