//! The signed-in user's own account: `GET /account`, and `POST
//! /account/password` (the current password, then the new one twice).
//! Changing it ends every session of the user (the service does), this one
//! too: the answer goes to the login page.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use flagyard_web::{AccountPage, FieldError, FlashKind, Section};

use super::answer::{frame, page, see_other_with, with_status};
use super::error::UiError;
use super::request::{Pairs, Posted, Signed, authorize, field, write_value};
use crate::auth::Role;
use crate::http::UiUser;
use crate::service::{self, LoginError, UserPatch};
use crate::state::AppState;
use crate::store::Backend;

pub(super) fn routes<B: Backend>() -> Router<AppState<B>> {
    Router::new().route("/account", get(show::<B>)).route("/account/password", post(change_password::<B>))
}

fn account_page(user: &UiUser, headers: &HeaderMap, errors: Vec<FieldError>) -> AccountPage {
    AccountPage { layout: frame(user, headers, "Your account", Section::Users), errors }
}

async fn show<B: Backend>(State(_s): State<AppState<B>>, Signed(user): Signed, headers: HeaderMap) -> Response {
    page(&user, &account_page(&user, &headers, Vec::new()))
}

async fn change_password<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, field(&pairs, "csrf"), Role::Viewer)?;
    let refuse = |status: StatusCode, errors: Vec<FieldError>| {
        Ok(with_status(status, page(&user, &account_page(&user, &headers, errors))))
    };
    let (current, new, repeat) = (field(&pairs, "current"), field(&pairs, "password"), field(&pairs, "repeat"));
    if new != repeat {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![FieldError::new("repeat", "the two new passwords differ")],
        );
    }
    match service::verify_login(&s.store, &user.username, current).await {
        Ok(_) => {}
        Err(LoginError::InvalidCredentials) => {
            return refuse(
                StatusCode::FORBIDDEN,
                vec![FieldError::new("current", "this is not your current password")],
            );
        }
        Err(e) => return Err(UiError::Domain(service::Error::Conflict(e.to_string()))),
    }
    let patch = UserPatch { password: Some(new.to_owned()), ..UserPatch::default() };
    let prepared = match service::prepare_patch(patch).await {
        Ok(p) => p,
        Err(service::Error::Invalid { errors, .. }) => {
            let errors = errors.into_iter().map(|e| FieldError::new("password", e.message)).collect();
            return refuse(StatusCode::UNPROCESSABLE_ENTITY, errors);
        }
        Err(e) => return Err(e.into()),
    };
    let (actor, username) = (user.actor(), user.username.clone());
    write_value(&s, move |tx| Box::pin(async move { service::update_user(tx, &actor, &username, prepared).await }))
        .await?;
    // Every session of the user ended with the change (the service
    // announces it to every replica): sign in again.
    let mut response = see_other_with("/login", FlashKind::Success, "Password changed. Sign in with the new password.");
    response.headers_mut().append(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(response)
}
