//! Serving connections with bounds: HTTP/1.1 through hyper, with
//!
//! * a header-read timeout, which also bounds how long a keep-alive
//!   connection may sit idle between requests (hyper starts it when it
//!   begins waiting for a request head), so slow-header (slowloris) and idle
//!   sockets are closed;
//! * a write-stall timeout: a client that reads nothing while an answer
//!   waits to be written (a stalled SSE subscriber) is disconnected, and the
//!   kernel gives up on unacknowledged data after as long (`TCP_USER_TIMEOUT`),
//!   so a heartbeat to a vanished peer fails and ends its stream;
//! * a cap on open connections: past it a connection gets a `503` with
//!   `Retry-After` and is closed, instead of queueing in the kernel until
//!   the process runs out of descriptors;
//! * graceful shutdown: stop accepting, let in-flight requests finish (open
//!   streams end through the shutdown signal), within the drain timeout.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Sleep;
use tower_service::Service;

/// The connection bounds (from the configuration).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub write_timeout: Duration,
    pub max_connections: usize,
}

/// Descriptors kept free for the database, files and refusals.
const RESERVED_DESCRIPTORS: usize = 256;

/// The answer past the connection cap.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
retry-after: 1\r\nconnection: close\r\ncontent-length: 102\r\n\r\n\
{\"type\":\"about:blank\",\"title\":\"service unavailable\",\"status\":503,\"detail\":\"too many open connections\"}";

/// Raises the process's open-file limit to its hard limit (as Go and nginx
/// do) and returns the number of connections it leaves room for.
pub fn connection_room(wanted: usize) -> usize {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    let soft = unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return wanted;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
        limit.rlim_cur
    };
    let room = usize::try_from(soft).unwrap_or(usize::MAX).saturating_sub(RESERVED_DESCRIPTORS).max(16);
    if room < wanted {
        tracing::warn!(
            wanted,
            room,
            "the open-file limit leaves room for fewer connections than FLAGYARD_MAX_CONNECTIONS"
        );
    }
    wanted.min(room)
}

/// Serves `app` on `listener` until `stop` resolves, then stops accepting,
/// asks every connection to finish its request and close, and waits for
/// them at most `drain`. Returns whether every connection finished in time.
pub async fn run<S>(
    listener: TcpListener,
    app: S,
    limits: Limits,
    stop: impl Future<Output = ()>,
    drain: Duration,
) -> bool
where
    S: Service<Request<Incoming>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (closing, close) = watch::channel(false);
    tokio::pin!(stop);
    loop {
        let (stream, remote) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors (EMFILE) or a connection reset before
                    // accept: wait a moment instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics::counter!("flagyard_http_connections_refused_total").increment(1);
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        user_timeout(&stream, limits.write_timeout);
        let (app, mut close) = (app.clone(), close.clone());
        tokio::spawn(async move {
            metrics::gauge!("flagyard_http_connections_open").increment(1.0);
            let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(remote));
                let mut app = app.clone();
                async move {
                    std::future::poll_fn(|cx| app.poll_ready(cx)).await?;
                    app.call(request).await
                }
            });
            let io = TokioIo::new(Stalled::new(stream, limits.write_timeout));
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(io, service);
            tokio::pin!(connection);
            let closing = async move {
                let _ = close.wait_for(|closing| *closing).await;
            };
            tokio::select! {
                _ = connection.as_mut() => {}
                () = closing => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            metrics::gauge!("flagyard_http_connections_open").decrement(1.0);
            drop(slot);
        });
    }
    drop(listener);
    let _ = closing.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    tokio::time::timeout(drain, slots.acquire_many(all)).await.is_ok()
}

/// Answers `503` on a connection past the cap and closes it.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(BUSY).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// `TCP_USER_TIMEOUT`: the kernel errors the socket when sent data stays
/// unacknowledged this long (a peer that vanished).
fn user_timeout(stream: &TcpStream, timeout: Duration) {
    use std::os::fd::AsRawFd;
    let ms = libc::c_uint::try_from(timeout.as_millis()).unwrap_or(libc::c_uint::MAX);
    // SAFETY: the descriptor is open (owned by `stream`) and the option value
    // is a c_uint of the size passed.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_USER_TIMEOUT,
            std::ptr::from_ref(&ms).cast(),
            std::mem::size_of::<libc::c_uint>() as libc::socklen_t,
        );
    }
}

/// A socket whose writes fail once they have made no progress for the
/// write timeout (the client's receive window stayed full).
struct Stalled {
    inner: TcpStream,
    timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl Stalled {
    fn new(inner: TcpStream, timeout: Duration) -> Stalled {
        Stalled { inner, timeout, stalled: None }
    }

    /// `poll` of a write: `Pending` arms the stall timer, progress disarms it.
    fn progress<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match poll {
            Poll::Pending => {
                let timeout = self.timeout;
                let timer = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                ready!(timer.as_mut().poll(cx));
                metrics::counter!("flagyard_http_write_stalls_total").increment(1);
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading")))
            }
            done => {
                self.stalled = None;
                done
            }
        }
    }
}

impl AsyncRead for Stalled {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stalled {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.progress(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.progress(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.progress(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_answer_is_well_formed() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head.lines().find_map(|l| l.strip_prefix("content-length: ")).unwrap().parse().unwrap();
        assert_eq!(body.len(), length);
        let json: serde_json::Value = serde_json::from_str(body.trim_end()).unwrap();
        assert_eq!(json["status"], 503);
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_is_cut_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The client connects and never reads.
        let _client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let mut stalled = Stalled::new(server, Duration::from_millis(300));
        let chunk = vec![0u8; 64 * 1024];
        let started = std::time::Instant::now();
        let error = loop {
            if let Err(e) = stalled.write_all(&chunk).await {
                break e;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "the write never stalled");
        };
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }
}
