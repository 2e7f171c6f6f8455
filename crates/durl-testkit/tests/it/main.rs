//! Socket-level tests of the fault server, using a raw TCP client.

mod client;
mod faults;
mod http;
mod lifecycle;
mod tls;
