//! The benchmarks' log: every line formatted as the real server formats it
//! when its log is not a terminal (a file, journald: no ANSI colours), and
//! written where `COMPUTEHUB_BENCH_LOG_TO` says: `buffered` (the default, as
//! the server writes: through its log buffer, here into a file), `file`
//! (each line written to the file as it comes, as the server did before
//! stop 27) or `sink` (formatted, never written: the figures of stops up to
//! 26). `COMPUTEHUB_BENCH_LOG` replaces the filter (`warn` turns the access
//! log off).

use computehub::telemetry::writer::{Flusher, Line, LogWriter};
use tracing_subscriber::fmt::writer::{EitherWriter, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Where the bench's log lines go.
enum BenchLog {
    Buffered(LogWriter),
    File(std::fs::File),
    Sink,
}

impl<'a> MakeWriter<'a> for BenchLog {
    type Writer = EitherWriter<Line<'a>, EitherWriter<&'a std::fs::File, std::io::Sink>>;

    fn make_writer(&'a self) -> Self::Writer {
        match self {
            BenchLog::Buffered(w) => EitherWriter::A(w.make_writer()),
            BenchLog::File(f) => EitherWriter::B(EitherWriter::A(f)),
            BenchLog::Sink => EitherWriter::B(EitherWriter::B(std::io::sink())),
        }
    }
}

/// Keeps the log's file and writer thread until the bench ends.
pub struct Guard {
    _flusher: Option<Flusher>,
    _dir: tempfile::TempDir,
}

/// Install the log; prints where it goes.
pub fn init() -> Guard {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_file = || std::fs::File::create(dir.path().join("server.log")).expect("log file");
    let to = std::env::var("COMPUTEHUB_BENCH_LOG_TO").unwrap_or_else(|_| "buffered".into());
    let (writer, flusher) = match to.as_str() {
        "sink" => (BenchLog::Sink, None),
        "file" => (BenchLog::File(log_file()), None),
        _ => {
            let (w, f) = LogWriter::buffered(log_file()).expect("log writer");
            (BenchLog::Buffered(w), Some(f))
        }
    };
    println!("log: {to}");
    let filter = tracing_subscriber::EnvFilter::new(
        std::env::var("COMPUTEHUB_BENCH_LOG").unwrap_or("info,wasmtime=warn,cranelift=warn".into()),
    );
    let layer = computehub::telemetry::text_layer(writer, false).with_filter(filter);
    let _ = tracing_subscriber::registry().with(layer).try_init();
    Guard {
        _flusher: flusher,
        _dir: dir,
    }
}
