//! Administration pages: environments and their SDK keys, admin tokens
//! (secrets shown once, right after creation, never stored in clear), and
//! users (create, change role, disable or enable) through the same
//! services as the admin API. Segments are in `segment_pages.rs`.
//!
//! Reading environments needs a session; everything else here needs the
//! admin role, like the admin API.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use flagyard_web::{
    ConfirmPage, CreatedSecret, EnvironmentRow, EnvironmentsPage, FieldError, FlashKind, NewEnvironmentForm,
    NewSdkKeyForm, NewTokenForm, NewUserForm, SdkKeyRow, Section, TokenRow, TokensPage, UserRow, UsersPage,
};

use super::answer::{done, frame, no_store, page, web_role, with_status};
use super::error::{UiError, form_errors, onto_field};
use super::request::{Pairs, Posted, Signed, authorize, confirmed, field, is_production, trimmed, write_value};
use crate::auth::{ADMIN_TOKEN_PREFIX, Role, SDK_KEY_PREFIX};
use crate::http::UiUser;
use crate::service::Error as DomainError;
use crate::service::{self, EnvironmentInput, SdkKeyInput, TokenInput, UserInput, UserPatch};
use crate::state::AppState;
use crate::store::Backend;

pub(super) fn routes<B: Backend>() -> Router<AppState<B>> {
    Router::new()
        .route("/environments", get(environments::<B>).post(create_environment::<B>))
        .route("/sdk-keys", post(create_sdk_key::<B>))
        .route("/sdk-keys/{id}/revoke", post(revoke_sdk_key::<B>))
        .route("/tokens", get(tokens::<B>).post(create_token::<B>))
        .route("/tokens/{id}/revoke", post(revoke_token::<B>))
        .route("/users", get(users::<B>).post(create_user::<B>))
        .route("/users/{username}/role", post(change_role::<B>))
        .route("/users/{username}/disable", post(disable_user::<B>))
        .route("/users/{username}/password", post(set_password::<B>))
        .merge(super::segment_pages::routes::<B>())
}

/// What the environments page shows besides the lists.
#[derive(Default)]
struct EnvForms {
    created_key: Option<CreatedSecret>,
    new_environment: NewEnvironmentForm,
    new_key: NewSdkKeyForm,
    errors: Vec<FieldError>,
}

async fn environments_page<B: Backend>(
    s: &AppState<B>,
    user: &UiUser,
    headers: &HeaderMap,
    forms: EnvForms,
) -> Result<EnvironmentsPage, UiError> {
    let mut tx = s.store.read().await?;
    let environments = service::list_environments(&mut tx).await?;
    let keys = if user.role >= Role::Admin { service::list_sdk_keys(&mut tx, None).await? } else { Vec::new() };
    drop(tx);
    let environments = environments
        .into_iter()
        .map(|e| EnvironmentRow {
            production: is_production(&e.key),
            version: u64::try_from(e.version).unwrap_or_default(),
            key: e.key,
            name: e.name,
        })
        .collect();
    let keys = keys
        .into_iter()
        .map(|k| SdkKeyRow {
            id: k.id.to_string(),
            name: k.name,
            environment: k.environment,
            prefix: SDK_KEY_PREFIX.to_owned(),
            created: k.created_at,
            last_used: k.last_used_at,
            revoked: k.revoked_at.is_some(),
        })
        .collect();
    Ok(EnvironmentsPage {
        layout: frame(user, headers, "Environments", Section::Environments),
        environments,
        keys,
        created_key: forms.created_key,
        new_environment: forms.new_environment,
        new_key: forms.new_key,
        errors: forms.errors,
    })
}

async fn environments<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let view = environments_page(&s, &user, &headers, EnvForms::default()).await?;
    Ok(page(&user, &view))
}

async fn create_environment<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Posted(form): Posted<NewEnvironmentForm>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, &form.csrf, Role::Admin)?;
    let name = form.name.trim();
    let input = EnvironmentInput { key: form.key.trim().to_owned(), name: (!name.is_empty()).then(|| name.to_owned()) };
    let actor = user.actor();
    match write_value(&s, move |tx| Box::pin(async move { service::create_environment(tx, &actor, input).await })).await
    {
        Ok(env) => {
            Ok(done(&headers, "/environments", FlashKind::Success, &format!("Environment {} created.", env.key)))
        }
        Err(e) => {
            let (status, errors) = form_errors(e, "")?;
            let forms = EnvForms { new_environment: form, errors: onto_field(errors, "key"), ..EnvForms::default() };
            Ok(with_status(status, page(&user, &environments_page(&s, &user, &headers, forms).await?)))
        }
    }
}

async fn create_sdk_key<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Posted(form): Posted<NewSdkKeyForm>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, &form.csrf, Role::Admin)?;
    let (env, input) = (form.environment.clone(), SdkKeyInput { name: form.name.trim().to_owned() });
    let actor = user.actor();
    let created =
        write_value(&s, move |tx| Box::pin(async move { service::create_sdk_key(tx, &actor, &env, input).await }))
            .await;
    match created {
        Ok(key) => {
            let created_key = key.secret.map(|secret| CreatedSecret { name: key.name, secret });
            let forms = EnvForms { created_key, ..EnvForms::default() };
            Ok(no_store(page(&user, &environments_page(&s, &user, &headers, forms).await?)))
        }
        Err(e) => {
            let not_found = matches!(e, DomainError::NotFound(_));
            let (status, errors) = form_errors(e, "")?;
            let errors = onto_field(errors, if not_found { "environment" } else { "name" });
            let forms = EnvForms { new_key: form, errors, ..EnvForms::default() };
            Ok(with_status(status, page(&user, &environments_page(&s, &user, &headers, forms).await?)))
        }
    }
}

/// A revoke or user change that failed in a way the user can act on:
/// back to `path` with the reason as a flash message.
fn refused(headers: &HeaderMap, path: &str, e: DomainError) -> Result<Response, UiError> {
    let words = super::deletion::refused_as_is(e)?;
    Ok(done(headers, path, FlashKind::Error, &words))
}

fn parse_id(id: &str) -> Result<i64, UiError> {
    id.parse().map_err(|_| UiError::Domain(DomainError::NotFound(format!("`{id}`"))))
}

async fn revoke_sdk_key<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, field(&pairs, "csrf"), Role::Admin)?;
    let id = parse_id(&id)?;
    if !confirmed(&pairs) {
        let view = ConfirmPage {
            layout: frame(&user, &headers, "Confirm", Section::Environments),
            question: "Revoke this SDK key?".into(),
            detail: "Every SDK using it is refused at once and stops receiving updates (it keeps serving the rules \
                     it has); a revoked key cannot be restored."
                .into(),
            action: format!("/sdk-keys/{id}/revoke"),
            confirm_label: "Revoke the key".into(),
            cancel_href: "/environments".into(),
            fields: Vec::new(),
        };
        return Ok(page(&user, &view));
    }
    let actor = user.actor();
    let revoked = write_value(&s, move |tx| Box::pin(async move { service::revoke_sdk_key(tx, &actor, id).await }));
    after_revoke(&s, &headers, revoked.await, "/environments", "SDK key revoked.")
}

/// The answer to a revocation: cached credentials go at once (other
/// replicas hear the NOTIFY), then back to `back` with a flash.
fn after_revoke<B: Backend>(
    s: &AppState<B>,
    headers: &HeaderMap,
    revoked: Result<(), DomainError>,
    back: &str,
    message: &str,
) -> Result<Response, UiError> {
    match revoked {
        Ok(()) => {
            s.hub.keys_changed();
            Ok(done(headers, back, FlashKind::Success, message))
        }
        Err(e) => refused(headers, back, e),
    }
}

async fn tokens_page<B: Backend>(
    s: &AppState<B>,
    user: &UiUser,
    headers: &HeaderMap,
    created: Option<CreatedSecret>,
    form: NewTokenForm,
    errors: Vec<FieldError>,
) -> Result<TokensPage, UiError> {
    let mut tx = s.store.read().await?;
    let tokens = service::list_tokens(&mut tx).await?;
    drop(tx);
    let tokens = tokens
        .into_iter()
        .map(|t| TokenRow {
            id: t.id.to_string(),
            role: web_role(Role::parse(&t.role).unwrap_or(Role::Viewer)),
            name: t.name,
            prefix: ADMIN_TOKEN_PREFIX.to_owned(),
            created: t.created_at,
            last_used: t.last_used_at,
            revoked: t.revoked_at.is_some(),
        })
        .collect();
    let layout = frame(user, headers, "Admin tokens", Section::Tokens);
    Ok(TokensPage { layout, tokens, created, form, errors })
}

async fn tokens<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    user.require(Role::Admin)?;
    let view = tokens_page(&s, &user, &headers, None, NewTokenForm::default(), Vec::new()).await?;
    Ok(page(&user, &view))
}

async fn create_token<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Posted(form): Posted<NewTokenForm>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, &form.csrf, Role::Admin)?;
    let Some(role) = Role::parse(form.role.trim()) else {
        let errors = vec![FieldError::new("role", "choose viewer, editor or admin")];
        let view = tokens_page(&s, &user, &headers, None, form, errors).await?;
        return Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, page(&user, &view)));
    };
    let input = TokenInput { name: form.name.trim().to_owned(), role };
    let actor = user.actor();
    match write_value(&s, move |tx| Box::pin(async move { service::create_token(tx, &actor, input).await })).await {
        Ok(token) => {
            let created = token.secret.map(|secret| CreatedSecret { name: token.name, secret });
            let view = tokens_page(&s, &user, &headers, created, NewTokenForm::default(), Vec::new()).await?;
            Ok(no_store(page(&user, &view)))
        }
        Err(e) => {
            let (status, errors) = form_errors(e, "")?;
            let view = tokens_page(&s, &user, &headers, None, form, onto_field(errors, "name")).await?;
            Ok(with_status(status, page(&user, &view)))
        }
    }
}

async fn revoke_token<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(id): Path<String>,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, field(&pairs, "csrf"), Role::Admin)?;
    let id = parse_id(&id)?;
    if !confirmed(&pairs) {
        let view = ConfirmPage {
            layout: frame(&user, &headers, "Confirm", Section::Tokens),
            question: "Revoke this API token?".into(),
            detail: "Every script or service using it is refused at once; a revoked token cannot be restored.".into(),
            action: format!("/tokens/{id}/revoke"),
            confirm_label: "Revoke the token".into(),
            cancel_href: "/tokens".into(),
            fields: Vec::new(),
        };
        return Ok(page(&user, &view));
    }
    let actor = user.actor();
    let revoked = write_value(&s, move |tx| Box::pin(async move { service::revoke_token(tx, &actor, id).await }));
    after_revoke(&s, &headers, revoked.await, "/tokens", "Token revoked.")
}

async fn users_page<B: Backend>(
    s: &AppState<B>,
    user: &UiUser,
    headers: &HeaderMap,
    form: NewUserForm,
    errors: Vec<FieldError>,
) -> Result<UsersPage, UiError> {
    let mut tx = s.store.read().await?;
    let users = service::list_users(&mut tx).await?;
    drop(tx);
    let users = users
        .into_iter()
        .map(|u| UserRow {
            is_self: u.username.eq_ignore_ascii_case(&user.username),
            role: web_role(u.role),
            disabled: u.disabled,
            created: u.created_at,
            username: u.username,
        })
        .collect();
    let form = NewUserForm { password: String::new(), ..form };
    Ok(UsersPage { layout: frame(user, headers, "Users", Section::Users), users, form, errors })
}

async fn users<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    user.require(Role::Admin)?;
    let view = users_page(&s, &user, &headers, NewUserForm::default(), Vec::new()).await?;
    Ok(page(&user, &view))
}

async fn create_user<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Posted(form): Posted<NewUserForm>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, &form.csrf, Role::Admin)?;
    let Some(role) = Role::parse(form.role.trim()) else {
        let errors = vec![FieldError::new("role", "choose viewer, editor or admin")];
        let view = users_page(&s, &user, &headers, form, errors).await?;
        return Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, page(&user, &view)));
    };
    let input = UserInput { username: form.username.trim().to_owned(), password: form.password.clone(), role };
    let actor = user.actor();
    let created = match service::prepare_user(input).await {
        Ok(prepared) => {
            write_value(&s, move |tx| Box::pin(async move { service::create_user(tx, &actor, prepared).await })).await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(u) => {
            let message = format!("User {} created with the {} role.", u.username, u.role.as_str());
            Ok(done(&headers, "/users", FlashKind::Success, &message))
        }
        Err(e) => {
            let (status, errors) = form_errors(e, "")?;
            let view = users_page(&s, &user, &headers, form, onto_field(errors, "username")).await?;
            Ok(with_status(status, page(&user, &view)))
        }
    }
}

/// Applies `patch` to user `username`, unless it is the signed-in user.
async fn patch_user<B: Backend>(
    s: &AppState<B>,
    user: &UiUser,
    headers: &HeaderMap,
    username: String,
    patch: UserPatch,
    what: &str,
) -> Result<Response, UiError> {
    if username.eq_ignore_ascii_case(&user.username) {
        let message = "You cannot change your own role or disable yourself, and you change your own password \
                       on your account page.";
        return Ok(done(headers, "/users", FlashKind::Error, message));
    }
    let prepared = service::prepare_patch(patch).await?;
    let actor = user.actor();
    let updated =
        write_value(s, move |tx| Box::pin(async move { service::update_user(tx, &actor, &username, prepared).await }))
            .await;
    match updated {
        Ok(u) => Ok(done(headers, "/users", FlashKind::Success, &format!("User {} {what}.", u.username))),
        Err(e) => refused(headers, "/users", e),
    }
}

async fn change_role<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(username): Path<String>,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, field(&pairs, "csrf"), Role::Admin)?;
    let role =
        Role::parse(trimmed(&pairs, "role")).ok_or_else(|| DomainError::invalid("role", "viewer, editor or admin"))?;
    let patch = UserPatch { role: Some(role), ..UserPatch::default() };
    patch_user(&s, &user, &headers, username, patch, &format!("is now {}", role.as_str())).await
}

async fn disable_user<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(username): Path<String>,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, field(&pairs, "csrf"), Role::Admin)?;
    let disabled = match trimmed(&pairs, "disabled") {
        "true" => true,
        "false" => false,
        _ => return Err(DomainError::invalid("disabled", "`true` or `false`").into()),
    };
    let patch = UserPatch { disabled: Some(disabled), ..UserPatch::default() };
    patch_user(&s, &user, &headers, username, patch, if disabled { "disabled" } else { "enabled" }).await
}

/// An admin sets another user's password (their sessions end).
async fn set_password<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(username): Path<String>,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, field(&pairs, "csrf"), Role::Admin)?;
    let patch = UserPatch { password: Some(field(&pairs, "password").to_owned()), ..UserPatch::default() };
    match service::check_password("password", patch.password.as_deref().unwrap_or_default()) {
        Ok(()) => patch_user(&s, &user, &headers, username, patch, "has a new password (signed out everywhere)").await,
        Err(e) => refused(&headers, "/users", e),
    }
}
