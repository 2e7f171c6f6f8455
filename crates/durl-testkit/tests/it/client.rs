//! A minimal blocking HTTP/1.1 client on `std::net::TcpStream`, enough to
//! observe exactly what the server put on the wire.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Read timeout for every test socket, so no test can hang.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed response head.
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length")
            .map(|v| v.parse().expect("numeric Content-Length"))
    }
}

/// How reading to the end of the stream finished.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    Eof,
    Reset,
}

/// One connection with a read buffer.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
        stream
            .set_read_timeout(Some(TIMEOUT))
            .expect("read timeout");
        stream
            .set_write_timeout(Some(TIMEOUT))
            .expect("write timeout");
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends `METHOD path HTTP/1.1` with `Host` and the extra header lines.
    pub fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.stream.write_all(req.as_bytes()).expect("send request");
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send raw");
    }

    /// Reads more bytes into the buffer; Ok(0) at EOF.
    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 65536];
        let n = self.stream.read(&mut tmp)?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    pub fn read_head(&mut self) -> Head {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(
                self.fill().expect("read head") > 0,
                "EOF before the response head"
            );
        };
        let head: Vec<u8> = self.buf.drain(..end).collect();
        let text = String::from_utf8(head).expect("UTF-8 head");
        let mut lines = text.split("\r\n");
        let status_line = lines.next().expect("status line");
        let mut parts = status_line.splitn(3, ' ');
        assert_eq!(parts.next(), Some("HTTP/1.1"));
        let status = parts
            .next()
            .expect("status")
            .parse()
            .expect("numeric status");
        let headers = lines
            .take_while(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').expect("header colon");
                (n.to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        Head { status, headers }
    }

    pub fn read_exact(&mut self, n: u64) -> Vec<u8> {
        let n = usize::try_from(n).expect("fits");
        while self.buf.len() < n {
            assert!(
                self.fill().expect("read body") > 0,
                "EOF after {} of {n} bytes",
                self.buf.len()
            );
        }
        let rest = self.buf.split_off(n);
        std::mem::replace(&mut self.buf, rest)
    }

    /// Reads everything until EOF or reset.
    pub fn read_to_end(&mut self) -> (Vec<u8>, End) {
        let end = loop {
            match self.fill() {
                Ok(0) => break End::Eof,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break End::Reset,
                Err(e) => panic!("read to end: {e}"),
            }
        };
        (std::mem::take(&mut self.buf), end)
    }

    /// Decodes a chunked body; returns (data, number of chunks).
    pub fn read_chunked(&mut self) -> (Vec<u8>, usize) {
        let mut data = Vec::new();
        let mut chunks = 0;
        loop {
            let line = self.read_line();
            let size = u64::from_str_radix(line.trim(), 16).expect("chunk size");
            if size == 0 {
                assert_eq!(self.read_line(), "", "no trailers expected");
                return (data, chunks);
            }
            data.extend(self.read_exact(size));
            assert_eq!(self.read_exact(2), b"\r\n");
            chunks += 1;
        }
    }

    fn read_line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).collect();
                return String::from_utf8(line[..i].to_vec()).expect("UTF-8 line");
            }
            assert!(self.fill().expect("read line") > 0, "EOF in chunked body");
        }
    }

    /// Head plus a Content-Length body (none for HEAD).
    pub fn response(&mut self, head_request: bool) -> (Head, Vec<u8>) {
        let head = self.read_head();
        let body = match head.content_length() {
            Some(n) if !head_request => self.read_exact(n),
            _ => Vec::new(),
        };
        (head, body)
    }

    /// True if the server closed the connection (EOF or reset) with nothing more to read.
    pub fn is_closed(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        match self.fill() {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => true,
            Err(e) => panic!("waiting for close: {e}"),
        }
    }
}

/// One request on a fresh connection: (head, body).
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (Head, Vec<u8>) {
    let mut conn = Conn::connect(addr);
    conn.send("GET", path, headers);
    conn.response(false)
}
