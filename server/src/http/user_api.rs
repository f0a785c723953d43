//! Handlers of `/api/v1/users`: the web UI's user accounts, managed with an
//! admin token. Passwords are hashed before the write is queued (argon2 is
//! slow on purpose and must not hold up the writer); hashes are never
//! returned.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::api::{Answer, created, ok};
use super::auth::Caller;
use super::extract::{Json, Path};
use crate::auth::Role;
use crate::service::{self, UserInput, UserPatch};
use crate::state::AppState;
use crate::store::Backend;

pub(super) async fn list_users<B: Backend>(State(s): State<AppState<B>>, caller: Caller) -> Answer {
    caller.require(Role::Admin)?;
    let mut tx = s.store.read().await?;
    ok(service::list_users(&mut tx).await?)
}

pub(super) async fn create_user<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Json(body): Json<UserInput>,
) -> Answer {
    caller.require(Role::Admin)?;
    let user = service::prepare_user(body).await?;
    s.write(move |tx| Box::pin(async move { created(service::create_user(tx, &caller.actor, user).await?) })).await
}

pub(super) async fn update_user<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(username): Path<String>,
    Json(body): Json<UserPatch>,
) -> Answer {
    caller.require(Role::Admin)?;
    let patch = service::prepare_patch(body).await?;
    s.write(move |tx| Box::pin(async move { ok(service::update_user(tx, &caller.actor, &username, patch).await?) }))
        .await
}

pub(super) async fn delete_user<B: Backend>(
    State(s): State<AppState<B>>,
    caller: Caller,
    Path(username): Path<String>,
) -> Answer {
    caller.require(Role::Admin)?;
    s.write(move |tx| {
        Box::pin(async move {
            service::delete_user(tx, &caller.actor, &username).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        })
    })
    .await
}
