//! A loopback TCP proxy that adds a fixed delay in each direction (half the round trip),
//! per chunk read: every chunk is forwarded `one_way` after it arrived, independently of
//! the others, so latency grows but bandwidth does not shrink and pipelined commands
//! still overlap (as on a real long link).
//!
//! Not `tests/support/proxy.rs`: that one parses every byte for its fault rules and lives
//! at most five minutes, both wrong for timing multi-minute syncs. std threads only;
//! every loop ends on end of stream, an error or the stop flag (set on drop), and the
//! number of connections is capped.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often blocked threads look at the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// The most connections one proxy accepts over its life.
const MAX_CONNECTIONS: usize = 100_000;

pub struct DelayProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl DelayProxy {
    /// Listens on a free loopback port; forwards to `127.0.0.1:upstream_port`, delaying
    /// each direction by `one_way`.
    pub fn start(upstream_port: u16, one_way: Duration) -> std::io::Result<DelayProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let upstream = SocketAddr::from(([127, 0, 0, 1], upstream_port));
        let acceptor = {
            let (stop, threads) = (Arc::clone(&stop), Arc::clone(&threads));
            std::thread::spawn(move || {
                let mut accepted = 0;
                while !stop.load(Ordering::SeqCst) && accepted < MAX_CONNECTIONS {
                    match listener.accept() {
                        Ok((client, _)) => {
                            accepted += 1;
                            let handles = connect(client, upstream, one_way, &stop);
                            let mut all = threads.lock().unwrap_or_else(|e| e.into_inner());
                            // Forget the threads of finished connections.
                            all.retain(|h| !h.is_finished());
                            all.extend(handles);
                        }
                        // A bounded poll (non-blocking, so that the stop flag is seen).
                        Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL),
                        Err(_) => std::thread::sleep(POLL),
                    }
                }
            })
        };
        Ok(DelayProxy {
            port,
            stop,
            acceptor: Some(acceptor),
            threads,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

/// Connects to the server and starts the four threads of one connection (a reader and a
/// delayed writer per direction).
fn connect(
    client: TcpStream,
    upstream: SocketAddr,
    one_way: Duration,
    stop: &Arc<AtomicBool>,
) -> Vec<JoinHandle<()>> {
    let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(5)) else {
        return Vec::new();
    };
    let setup = |s: &TcpStream| -> std::io::Result<()> {
        s.set_nonblocking(false)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(POLL))?;
        s.set_write_timeout(Some(Duration::from_secs(60)))
    };
    if setup(&client).and_then(|()| setup(&server)).is_err() {
        return Vec::new();
    }
    let mut handles = Vec::new();
    for (from, to) in [(&client, &server), (&server, &client)] {
        let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            return handles;
        };
        let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
        let stop_reader = Arc::clone(stop);
        handles.push(std::thread::spawn(move || {
            read_side(from, &tx, one_way, &stop_reader)
        }));
        handles.push(std::thread::spawn(move || write_side(to, &rx)));
    }
    handles
}

/// Reads chunks and queues each with the instant it is due.
fn read_side(
    mut from: TcpStream,
    tx: &mpsc::Sender<(Instant, Vec<u8>)>,
    one_way: Duration,
    stop: &AtomicBool,
) {
    let mut buf = vec![0u8; 64 << 10];
    while !stop.load(Ordering::SeqCst) {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if tx
                    .send((Instant::now() + one_way, buf[..n].to_vec()))
                    .is_err()
                {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
    }
    // Dropping the sender ends the writer once it has sent everything queued.
}

/// Writes each queued chunk when it is due, then half-closes (the end of stream travels
/// with the same delay).
fn write_side(mut to: TcpStream, rx: &mpsc::Receiver<(Instant, Vec<u8>)>) {
    let mut ok = true;
    for (due, data) in rx.iter() {
        if !ok {
            continue; // drain, so the reader is never blocked
        }
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        ok = to.write_all(&data).is_ok();
    }
    if ok {
        let _ = to.shutdown(Shutdown::Write);
    } else {
        let _ = to.shutdown(Shutdown::Both);
    }
}
