//! The byte stream under one IMAP connection and what watches it: the read budget of the
//! answer under way, the commands sent ahead (see [`super::pipeline`]) and the `-vvv`
//! trace. One [`Wire`] is shared by the `imap` crate's session (through [`Budgeted`]) and
//! the [`super::FarSession`], which reads body answers itself (see [`super::bodies`]).

use super::pipeline::Pipeline;
use super::trace;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard};

/// The byte stream under an IMAP session: TLS or (loopback only) plain TCP.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<openssl::ssl::SslStream<TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A connection's stream with its watchers.
pub struct Wire {
    inner: Stream,
    /// Bytes read of the answer under way, and how many it may take: reads stop with an
    /// error beyond that, so a server announcing a 4 GB literal (or never finishing an
    /// answer) cannot make anyone buffer without bound.
    read: u64,
    limit: u64,
    /// Commands sent ahead of the crate's next one, and their answers kept from it.
    pub(super) pipeline: Pipeline,
    /// The `-vvv` trace of this connection, when asked for.
    trace: Option<Box<trace::Trace>>,
}

/// A handle on a connection's [`Wire`].
pub type SharedWire = Arc<Mutex<Wire>>;

/// Locks a wire; a panic elsewhere while it was held leaves nothing half-done that
/// matters here (a broken connection is found out by its next read).
pub fn lock(wire: &SharedWire) -> MutexGuard<'_, Wire> {
    wire.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Wire {
    /// A wire over `inner`, with the allowance of `limit` bytes for the first answer.
    pub fn new(inner: Stream, limit: u64, trace: Option<Box<trace::Trace>>) -> SharedWire {
        Arc::new(Mutex::new(Wire {
            inner,
            read: 0,
            limit,
            pipeline: Pipeline::default(),
            trace,
        }))
    }

    /// Starts a new answer's allowance.
    pub fn start(&mut self, limit: u64) {
        self.read = 0;
        self.limit = limit;
    }

    fn traced(&mut self, side: trace::Side, bytes: &[u8]) {
        if let Some(trace) = &mut self.trace {
            for line in trace.feed(side, bytes) {
                crate::log::trace(&line);
            }
        }
    }

    /// How many more bytes the answer under way may take.
    pub fn room(&self) -> u64 {
        self.limit.saturating_sub(self.read)
    }

    /// The error of an answer longer than its budget.
    pub fn exceeded(&self) -> io::Error {
        io::Error::other(format!(
            "the server's answer exceeded {} bytes, more than this command can legitimately return; stopped reading (a broken or hostile server?)",
            self.limit
        ))
    }

    /// One read from the server within the answer's budget.
    pub fn read_budgeted(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read >= self.limit {
            return Err(self.exceeded());
        }
        let room = usize::try_from(self.limit - self.read).unwrap_or(usize::MAX);
        let end = buf.len().min(room);
        let n = self.inner.read(&mut buf[..end])?;
        self.read += n as u64;
        self.traced(trace::Side::Server, &buf[..n]);
        Ok(n)
    }

    /// Writes `bytes` (a whole command of ours) and sends it off.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_all(bytes)?;
        self.traced(trace::Side::Client, bytes);
        self.inner.flush()
    }

    /// What the crate reads: the server's bytes without the completion lines of the
    /// commands sent ahead.
    fn read_filtered(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.pipeline.filtering() {
            return self.read_budgeted(buf);
        }
        let mut raw = vec![0u8; buf.len().max(1)];
        loop {
            let n = self.pipeline.take_ready(buf);
            if n > 0 {
                return Ok(n);
            }
            if !self.pipeline.filtering() {
                return self.read_budgeted(buf);
            }
            let got = self.read_budgeted(&mut raw)?;
            self.pipeline.feed(&raw[..got]);
            if got == 0 {
                return Ok(self.pipeline.take_ready(buf));
            }
        }
    }

    /// What the crate writes, after the commands queued to go ahead of it.
    fn write_after_ahead(&mut self, buf: &[u8]) -> io::Result<usize> {
        let ahead = self.pipeline.take_outgoing();
        if !ahead.is_empty() {
            self.inner.write_all(&ahead)?;
            self.traced(trace::Side::Client, &ahead);
        }
        let n = self.inner.write(buf)?;
        self.traced(trace::Side::Client, &buf[..n]);
        Ok(n)
    }
}

/// The stream the `imap` crate's session reads and writes: its [`Wire`].
pub struct Budgeted(pub SharedWire);

impl Read for Budgeted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        lock(&self.0).read_filtered(buf)
    }
}

impl Write for Budgeted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        lock(&self.0).write_after_ahead(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        lock(&self.0).inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reads_stop_at_the_budget() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut writer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (reader, _) = listener.accept().unwrap();
        reader
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        writer.write_all(&[b'x'; 100]).unwrap();
        let wire = Wire::new(Stream::Plain(reader), 60, None);
        let mut stream = Budgeted(Arc::clone(&wire));
        let mut got = Vec::new();
        let mut buf = [0u8; 40];
        let error = loop {
            match stream.read(&mut buf) {
                Ok(0) => panic!("end of stream before the budget"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break e,
            }
            assert!(got.len() <= 60, "read past the budget");
        };
        assert_eq!(got.len(), 60);
        assert!(error.to_string().contains("exceeded 60 bytes"), "{error}");
        // A new command gets a new allowance.
        lock(&wire).start(100);
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0 && n <= 40);
    }
}
