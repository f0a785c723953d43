//! `flagyard-bare`: the floor for the OFREP benchmark (`scripts/bench-ofrep.sh`).
//!
//! A bare axum 0.8 app on the same Tokio runtime shape as the server (one
//! multi-thread runtime, a worker per core) whose handlers do what no
//! server can skip: take the request, read its body, answer a fixed JSON of
//! the size of a real answer. No authentication, parsing, evaluation,
//! middleware or logging. Flagyard's OFREP throughput is reported as a share
//! of this app's, measured alternately in the same window.
//!
//! ```text
//! flagyard-bare [PORT]     listens on 127.0.0.1:PORT (default 0: any free port) and prints
//!                          `listening 127.0.0.1:<port>`; stops on SIGTERM or Ctrl-C
//! ```
//! Routes: `POST /ofrep/v1/evaluate/flags/{key}` (one answer),
//! `POST /ofrep/v1/evaluate/flags` (three answers), `GET /healthz`.

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

/// A single-flag answer as Flagyard gives it for the benchmark's plain flag.
const SINGLE: &str = r#"{"key":"plain","metadata":{"flagyardReason":"default","version":9},"reason":"STATIC","value":true,"variant":"on"}"#;
/// A bulk answer for the benchmark's three flags.
const BULK: &str = concat!(
    r#"{"eventStreams":[{"inactivityDelaySec":120,"type":"sse","url":"http://127.0.0.1/ofrep/v1/stream"}],"#,
    r#""flags":[{"key":"canary","metadata":{"flagyardReason":"split of rule `canary-25`","version":9},"reason":"SPLIT","value":false,"variant":"off"},"#,
    r#"{"key":"experiment","metadata":{"flagyardReason":"split of rule `targeted-split`","version":9},"reason":"SPLIT","value":"blue","variant":"blue"},"#,
    r#"{"key":"plain","metadata":{"flagyardReason":"default","version":9},"reason":"STATIC","value":true,"variant":"on"}],"#,
    r#""metadata":{"environment":"production","version":9}}"#
);

async fn single(_body: Bytes) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], SINGLE)
}

async fn bulk(_body: Bytes) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], BULK)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p.parse().map_err(|_| anyhow::anyhow!("usage: flagyard-bare [PORT]"))?,
        None => 0,
    };
    let app = Router::new()
        .route("/ofrep/v1/evaluate/flags/{key}", post(single))
        .route("/ofrep/v1/evaluate/flags", post(bulk))
        .route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening {}", listener.local_addr()?);
    let stop = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    axum::serve(listener, app).with_graceful_shutdown(stop).await?;
    Ok(())
}
