//! Bodies read before their sender is known: an AK/SK-signed request's body
//! (the signature covers it; it is hashed chunk by chunk as it arrives), a
//! debug-mode `orgid` body, the body of a route without authentication.
//!
//! They share one global [`Budget`] of bytes: memory for the body is taken
//! from it as the body grows (the buffer's capacity, so what is counted is
//! what is held) and given back when the reservation is dropped, once the
//! caller is verified or the request refused. When the budget is spent the
//! request is refused at once (503), never queued. A whole body must arrive
//! within a deadline. So stalled uploads from any number of connections hold
//! at most the budget, for at most the deadline.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::sync::Semaphore;

/// Bytes for unverified bodies, shared by all connections.
#[derive(Clone)]
pub struct Budget {
    bytes: Arc<Semaphore>,
}

/// Bytes taken from the [`Budget`]; given back on drop.
pub struct Reservation {
    bytes: Arc<Semaphore>,
    held: usize,
}

impl Budget {
    pub fn new(bytes: usize) -> Self {
        Budget {
            bytes: Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))),
        }
    }

    /// Bytes not reserved now.
    #[cfg(test)]
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }

    fn reservation(&self) -> Reservation {
        Reservation {
            bytes: Arc::clone(&self.bytes),
            held: 0,
        }
    }
}

impl Reservation {
    /// Take `n` more bytes, if the budget has them.
    fn grow(&mut self, n: usize) -> bool {
        let Ok(n32) = u32::try_from(n) else {
            return false;
        };
        match self.bytes.try_acquire_many(n32) {
            Ok(permit) => {
                permit.forget();
                self.held += n;
                true
            }
            Err(_) => false,
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.held > 0 {
            self.bytes.add_permits(self.held);
        }
    }
}

/// Why an unverified body was not read.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    /// Larger than the route's maximum.
    TooLarge,
    /// The budget is spent.
    Busy,
    /// Not received within the deadline.
    Timeout,
    /// The connection failed or the body was malformed.
    Cut,
}

/// Smallest buffer taken for a body.
const FIRST_CHUNK: usize = 8 << 10;

/// Read `body` (at most `max` bytes, within `deadline`) under `budget`,
/// passing each chunk to `on_chunk` as it arrives. The reservation holds the
/// body's memory until the caller drops it.
pub async fn read<B>(
    body: B,
    budget: &Budget,
    max: usize,
    deadline: Duration,
    mut on_chunk: impl FnMut(&[u8]),
) -> Result<(Bytes, Reservation), ReadError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let mut reserved = budget.reservation();
    // Never more than the client announced, nor than the maximum.
    let announced = body
        .size_hint()
        .upper()
        .map_or(max, |n| n.min(max as u64) as usize);
    let mut buf: Vec<u8> = Vec::new();
    let mut body = body;
    let receive = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| ReadError::Cut)?;
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            let needed = buf.len() + chunk.len();
            if needed > max {
                return Err(ReadError::TooLarge);
            }
            if needed > buf.capacity() {
                let target = (buf.capacity() * 2)
                    .max(FIRST_CHUNK)
                    .min(announced.max(needed))
                    .max(needed);
                if !reserved.grow(target.saturating_sub(reserved.held)) {
                    return Err(ReadError::Busy);
                }
                buf.reserve_exact(target - buf.len());
                // An allocator may round up: count what is held.
                if buf.capacity() > reserved.held && !reserved.grow(buf.capacity() - reserved.held)
                {
                    return Err(ReadError::Busy);
                }
            }
            on_chunk(&chunk);
            buf.extend_from_slice(&chunk);
        }
        Ok(())
    };
    let received = tokio::time::timeout(deadline, receive).await;
    match received {
        Ok(Ok(())) => Ok((Bytes::from(buf), reserved)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ReadError::Timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A body of unannounced length: its chunks, then (when `stall`) nothing
    /// ever again.
    struct Chunks {
        parts: VecDeque<Bytes>,
        stall: bool,
    }

    impl hyper::body::Body for Chunks {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
            match self.parts.pop_front() {
                Some(b) => Poll::Ready(Some(Ok(hyper::body::Frame::data(b)))),
                None if self.stall => Poll::Pending,
                None => Poll::Ready(None),
            }
        }
    }

    fn chunks(n: usize, size: usize, stall: bool) -> Chunks {
        Chunks {
            parts: (0..n).map(|i| Bytes::from(vec![i as u8; size])).collect(),
            stall,
        }
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn bodies_are_held_within_the_budget_and_given_back() {
        let budget = Budget::new(64 << 10);
        let body = Full::new(Bytes::from(vec![7u8; 20_000]));
        let mut seen = 0;
        let (bytes, held) = read(body, &budget, 1 << 20, SECOND, |c| seen += c.len())
            .await
            .unwrap();
        assert_eq!((bytes.len(), seen), (20_000, 20_000));
        // Exactly the announced size was taken.
        assert_eq!(budget.available(), (64 << 10) - 20_000);
        drop(held);
        assert_eq!(budget.available(), 64 << 10);

        // Unannounced: taken as it grows, at most twice what arrived.
        let (bytes, held) = read(chunks(5, 3_000, false), &budget, 1 << 20, SECOND, |_| {})
            .await
            .unwrap();
        assert_eq!(bytes.len(), 15_000);
        let taken = (64 << 10) - budget.available();
        assert!((15_000..=30_000).contains(&taken), "{taken}");
        drop(held);

        // Beyond the budget: refused, and nothing stays taken.
        let body = Full::new(Bytes::from(vec![7u8; 100_000]));
        let r = read(body, &budget, 1 << 20, SECOND, |_| {}).await;
        assert_eq!(r.err(), Some(ReadError::Busy));
        let r = read(chunks(40, 4_000, false), &budget, 1 << 20, SECOND, |_| {}).await;
        assert_eq!(r.err(), Some(ReadError::Busy));
        assert_eq!(budget.available(), 64 << 10);
        // Beyond the route's maximum.
        let r = read(chunks(3, 600, false), &budget, 1_000, SECOND, |_| {}).await;
        assert_eq!(r.err(), Some(ReadError::TooLarge));
        assert_eq!(budget.available(), 64 << 10);
    }

    #[tokio::test]
    async fn a_stalled_body_times_out_and_gives_its_bytes_back() {
        let budget = Budget::new(64 << 10);
        let short = Duration::from_millis(100);
        let r = read(chunks(2, 1_000, true), &budget, 1 << 20, short, |_| {}).await;
        assert_eq!(r.err(), Some(ReadError::Timeout));
        assert_eq!(budget.available(), 64 << 10);
    }
}
