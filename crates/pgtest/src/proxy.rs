//! A loopback TCP proxy to a port (the test server's): stopped, every
//! forwarded connection closes and no new one is accepted, as when the
//! database goes out of reach; resumed, it listens on the same port again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;

pub struct Proxy {
    /// The loopback port it listens on.
    pub port: u16,
    target: u16,
    tasks: Mutex<JoinSet<()>>,
}

impl Proxy {
    /// A proxy to `127.0.0.1:target`, listening on a free loopback port.
    pub async fn start(target: u16) -> Arc<Proxy> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("cannot listen on loopback: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("no local address: {e}"))
            .port();
        let p = Arc::new(Proxy {
            port,
            target,
            tasks: Mutex::new(JoinSet::new()),
        });
        p.serve(listener);
        p
    }

    /// `url` (`postgres://...@127.0.0.1:PORT/db`) through this proxy.
    pub fn url(&self, url: &str) -> String {
        url.replace(
            &format!("127.0.0.1:{}/", self.target),
            &format!("127.0.0.1:{}/", self.port),
        )
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, JoinSet<()>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn serve(self: &Arc<Self>, listener: tokio::net::TcpListener) {
        let me = Arc::clone(self);
        let target = self.target;
        self.tasks().spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                me.tasks().spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        });
    }

    /// Close the listener and every forwarded connection.
    pub async fn stop(&self) {
        let mut tasks = std::mem::take(&mut *self.tasks());
        tasks.shutdown().await;
    }

    /// Listen again on the same port (false if it stays taken for 5 s).
    pub async fn resume(self: &Arc<Self>) -> bool {
        for _ in 0..50 {
            if let Ok(l) = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await {
                self.serve(l);
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
}
