//! Where log lines go: straight to stderr (the one-shot commands), or, for
//! the server, into a bounded buffer in memory that a thread of its own
//! writes out every [`FLUSH_EVERY`].
//!
//! With the buffer a request never waits on a `write(2)`: a line costs a
//! mutex and a copy, and one `write(2)` carries every line of the last few
//! milliseconds. A log consumer that stops reading (a full pipe, a stalled
//! journald) blocks only the writing thread. The buffer then fills to
//! [`CAPACITY`] and the lines beyond it are dropped and counted: the server
//! keeps answering, its memory stays bounded, and when output resumes the
//! log says how many lines it lost ([`dropped_lines`] also feeds `/metrics`).
//! The lines keep their order. On shutdown [`Flusher`]'s drop writes what is
//! left; a crash loses at most the last [`FLUSH_EVERY`] of lines.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How often the writing thread writes the buffer out.
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);
/// Most bytes of lines held waiting for the writing thread; a line that
/// would go past it is dropped and counted.
pub const CAPACITY: usize = 4 << 20;
/// The writing thread is woken early when this much is waiting.
const HIGH_WATER: usize = 256 << 10;
/// A buffer that grew past this is not kept once written (its memory goes
/// back after a burst).
const KEEP: usize = 512 << 10;
/// How long shutdown waits for the last lines to be written: an output
/// that does not move (a full pipe nobody reads) must not keep the server
/// from exiting.
pub const LAST_WRITE: Duration = Duration::from_secs(2);

/// Lines dropped since the server started, because the buffer was full.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Log lines dropped since start because the output did not keep up
/// (`computehub_log_lines_dropped_total`).
pub fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Dropped and not yet reported in the log.
    dropped: u64,
    stop: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock cannot leave `Pending` half
        // changed (a push or a swap), so a poisoned lock is still usable.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, line: &[u8]) {
        let mut p = self.lock();
        if p.bytes.len() + line.len() > CAPACITY {
            p.dropped += 1;
            DROPPED.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let was_below = p.bytes.len() < HIGH_WATER;
        p.bytes.extend_from_slice(line);
        if was_below && p.bytes.len() >= HIGH_WATER {
            self.wake.notify_one();
        }
    }
}

/// The fmt layer's writer ([`MakeWriter`]): stderr, or the buffer.
#[derive(Clone)]
pub struct LogWriter(Option<Arc<Shared>>);

impl LogWriter {
    /// Lines written to stderr as they come.
    pub fn stderr() -> Self {
        LogWriter(None)
    }

    /// Lines buffered and written to `out` by a thread of their own; the
    /// thread stops (writing what is left) when the [`Flusher`] is dropped.
    pub fn buffered<W: Write + Send + 'static>(out: W) -> io::Result<(Self, Flusher)> {
        let shared = Arc::new(Shared {
            pending: Mutex::default(),
            wake: Condvar::new(),
        });
        let (done, stopped) = std::sync::mpsc::channel();
        {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("log-writer".into())
                .spawn(move || {
                    write_out(&shared, out);
                    let _ = done.send(());
                })?;
        }
        Ok((
            LogWriter(Some(Arc::clone(&shared))),
            Flusher { shared, stopped },
        ))
    }
}

/// One event's writer: the fmt layer formats a whole line and writes it
/// with one `write_all`.
pub struct Line<'a>(To<'a>);

enum To<'a> {
    Stderr(io::Stderr),
    Buffered(&'a Shared),
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            To::Stderr(e) => e.write(buf),
            To::Buffered(s) => {
                s.push(buf);
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            To::Stderr(e) => e.flush(),
            To::Buffered(_) => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line(match &self.0 {
            None => To::Stderr(io::stderr()),
            Some(s) => To::Buffered(s),
        })
    }
}

/// The writing thread: every [`FLUSH_EVERY`] (or sooner past the high
/// water mark) it takes the buffer and writes it to `out` outside the lock.
fn write_out(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        let (dropped, stop) = {
            let mut p = shared.lock();
            if !p.stop && p.bytes.len() < HIGH_WATER {
                p = shared
                    .wake
                    .wait_timeout(p, FLUSH_EVERY)
                    .map_or_else(|e| e.into_inner().0, |(p, _)| p);
            }
            std::mem::swap(&mut p.bytes, &mut batch);
            (std::mem::take(&mut p.dropped), p.stop)
        };
        // A write error (stderr closed) has nowhere to be reported; the
        // lines are let go so the buffer never grows past its bound.
        if dropped > 0 {
            let _ = writeln!(
                out,
                "{dropped} log lines were dropped: the log output did not keep up"
            );
        }
        if !batch.is_empty() {
            let _ = out.write_all(&batch);
            let _ = out.flush();
            batch.clear();
            if batch.capacity() > KEEP {
                batch = Vec::new();
            }
        }
        // Between writes: give back freed memory if asked (memory.rs).
        crate::memory::on_idle();
        if stop {
            return;
        }
    }
}

/// Stops the writing thread when dropped, after it wrote every line
/// buffered before the drop, waiting at most [`LAST_WRITE`] for it.
pub struct Flusher {
    shared: Arc<Shared>,
    /// Told when the writing thread has written its last batch.
    stopped: std::sync::mpsc::Receiver<()>,
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_one();
        let _ = self.stopped.recv_timeout(LAST_WRITE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Output that records what reached it, and can be held shut.
    #[derive(Clone, Default)]
    struct Out {
        written: Arc<Mutex<Vec<u8>>>,
        gate: Arc<Mutex<()>>,
    }

    impl Write for Out {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let _open = self.gate.lock().unwrap();
            self.written.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn text(out: &Out) -> String {
        String::from_utf8(out.written.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn lines_arrive_in_order_and_the_rest_on_drop() {
        let out = Out::default();
        let (w, flusher) = LogWriter::buffered(out.clone()).unwrap();
        for i in 0..1000 {
            writeln!(w.make_writer(), "line {i}").unwrap();
        }
        drop(flusher);
        let expected: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(text(&out), expected);
    }

    #[test]
    fn lines_are_written_without_waiting_for_shutdown() {
        let out = Out::default();
        let (w, _flusher) = LogWriter::buffered(out.clone()).unwrap();
        writeln!(w.make_writer(), "served").unwrap();
        let t = std::time::Instant::now();
        while !text(&out).contains("served") {
            assert!(t.elapsed() < Duration::from_secs(5), "never written");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn shutdown_does_not_wait_forever_on_an_output_that_never_moves() {
        let out = Out::default();
        let shut = out.gate.lock().unwrap();
        let (w, flusher) = LogWriter::buffered(out.clone()).unwrap();
        writeln!(w.make_writer(), "stuck").unwrap();
        // The thread takes the line and blocks writing it.
        std::thread::sleep(FLUSH_EVERY * 5);
        let t = std::time::Instant::now();
        drop(flusher);
        let waited = t.elapsed();
        assert!(
            waited >= LAST_WRITE,
            "{waited:?}: it did not wait for the write"
        );
        assert!(waited < LAST_WRITE * 2, "{waited:?}");
        drop(shut);
    }

    #[test]
    fn a_stalled_output_bounds_the_buffer_and_the_loss_is_reported() {
        let out = Out::default();
        let shut = out.gate.lock().unwrap();
        let (w, flusher) = LogWriter::buffered(out.clone()).unwrap();
        let mut line = vec![b'x'; 1023];
        line.push(b'\n');
        let before = dropped_lines();
        // 8 MiB of lines against a 4 MiB buffer and an output that does
        // not move (the thread holds one batch, blocked in `write`).
        for _ in 0..(8 << 10) {
            w.make_writer().write_all(&line).unwrap();
        }
        let lost = dropped_lines() - before;
        assert!(lost > 0, "nothing dropped");
        {
            let p = w.0.as_ref().unwrap().lock();
            assert!(p.bytes.len() <= CAPACITY, "{} bytes held", p.bytes.len());
        }
        drop(shut);
        drop(flusher);
        let written = text(&out);
        assert!(
            written.contains("log lines were dropped: the log output did not keep up"),
            "the loss is not in the log"
        );
        let kept = written.lines().filter(|l| l.starts_with('x')).count();
        assert!(kept > 0 && kept < 8 << 10, "{kept} lines kept");
    }
}
