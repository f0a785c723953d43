//! `GET /sdk/v1/snapshot` with `If-None-Match` (the ETag is the version).

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, IF_NONE_MATCH};

use super::SourceCtx;

pub(crate) enum PollOutcome {
    /// The store holds the server's current rules (updated or `304`).
    Current,
    Failed(String),
    /// `401`/`403`.
    Refused(String),
    Shutdown,
}

/// One poll. `force` omits `If-None-Match` (a full snapshot is wanted, e.g.
/// after a patch that could not be applied).
pub(crate) async fn poll_once(ctx: &SourceCtx, force: bool) -> PollOutcome {
    let mut req = ctx
        .http
        .get(format!("{}/sdk/v1/snapshot", ctx.base))
        .header(AUTHORIZATION, ctx.auth.clone())
        .timeout(ctx.config.request_timeout);
    if !force && let Some(v) = ctx.store.server_version() {
        req = req.header(IF_NONE_MATCH, format!("\"{v}\""));
    }
    let mut shutdown = ctx.shutdown.clone();
    let fetched = async {
        let resp = req.send().await.map_err(|e| PollOutcome::Failed(format!("snapshot request failed: {e}")))?;
        let status = resp.status();
        match status {
            StatusCode::NOT_MODIFIED => return Err(PollOutcome::Current),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(PollOutcome::Refused(format!("the server refused the SDK key ({status})")));
            }
            s if !s.is_success() => return Err(PollOutcome::Failed(format!("snapshot request answered {s}"))),
            _ => {}
        }
        resp.text().await.map_err(|e| PollOutcome::Failed(format!("snapshot body: {e}")))
    };
    let body = tokio::select! {
        r = fetched => r,
        _ = crate::stopped(&mut shutdown) => return PollOutcome::Shutdown,
    };
    let body = match body {
        Ok(body) => body,
        Err(outcome) => return outcome,
    };
    let applied = match flagyard_eval::parse_snapshot(&body) {
        Ok(snapshot) => ctx.apply_put(snapshot).await,
        Err(e) => Err(e),
    };
    match applied {
        Ok(()) => PollOutcome::Current,
        Err(e) => {
            tracing::error!(error = %e, "flagyard: the server's snapshot is invalid; keeping the current rules");
            PollOutcome::Failed(format!("invalid snapshot: {e}"))
        }
    }
}
