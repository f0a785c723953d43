//! The flags list: `GET /flags` (search, filters, a kill switch per
//! environment, the create form), `GET /flags/rows` (the table body, for
//! searches and live updates), `POST /flags` (create) and
//! `POST /flags/{key}/environments/{env}/toggle`.
//!
//! Toggling goes through the same service as the API's `PATCH` (audit actor
//! `user:<name>`). It is idempotent (asking for the current state changes
//! nothing); a stale `baseRevision` is a 409, shown as an error flash (or,
//! to htmx, with the row as it is now); in production it needs
//! `confirm=yes`, else the answer is a confirmation page. The flag page and
//! its forms are in `flag_detail.rs` and `rules_pages.rs`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use flagyard_eval::{FlagType, Variant};
use flagyard_web::{
    ConfirmPage, FieldError, FlagRowFragment, FlagsFilter, FlagsPage, FlagsTable, FlashKind, NewFlagForm, NewFlagView,
    Onboarding, Section, ToggleForm,
};

use super::answer::{done, frame, is_htmx, page, see_other_with};
use super::catalog_cache::{self, CatalogCache};
use super::error::UiError;
use super::request::{Params, Posted, Signed, authorize, is_production, local_path, referer_path, write_value};
use super::{flag_detail, flag_rows, rules_pages};
use crate::auth::Role;
use crate::http::UiUser;
use crate::service::Error as DomainError;
use crate::service::{self, ConfigWrite, FlagInput};
use crate::state::AppState;
use crate::store::{Backend, CredentialQueries};

pub(super) fn routes<B: Backend>() -> Router<AppState<B>> {
    Router::new()
        .route("/flags", get(list::<B>).post(create::<B>))
        .route("/flags/rows", get(rows::<B>))
        .route("/flags/{key}", get(flag_detail::show::<B>))
        .route("/flags/{key}/environments/{env}/toggle", post(toggle::<B>))
        .route("/flags/{key}/environments/{env}/rules", post(rules_pages::save::<B>))
        .route("/flags/{key}/environments/{env}/test", post(flag_detail::test::<B>))
        .route("/flags/{key}/copy", post(flag_detail::copy::<B>))
}

/// The table for `filter`, and the catalog and total for the page around it.
async fn table<B: Backend>(
    state: &AppState<B>,
    kept: &CatalogCache,
    user: &UiUser,
    filter: FlagsFilter,
) -> Result<(FlagsTable, Arc<flag_rows::Catalog>, usize), UiError> {
    let catalog = catalog_cache::load(state, kept).await?;
    let mut rows = flag_rows::filter(&catalog, &filter, service::now_ms());
    flag_rows::mark_ramps(state, &mut rows).await?;
    let total = rows.len();
    let (columns, version, can_edit) = (catalog.columns.clone(), catalog.version, user.role >= Role::Editor);
    let table = FlagsTable { csrf: user.csrf.clone(), columns, rows, version, filter, can_edit };
    Ok((table, catalog, total))
}

/// Whether this replica has seen an SDK key in use: from then on the flags
/// list shows no first steps and reads no keys for them (a used key stays
/// used, revoked or not).
#[derive(Debug, Default)]
pub(super) struct FirstSteps {
    done: std::sync::atomic::AtomicBool,
}

/// The first steps, while no SDK key has been used yet: the environment of
/// the newest live key (else production, else the first), its name, and
/// the first flag.
async fn onboarding<B: Backend>(
    state: &AppState<B>,
    steps: &FirstSteps,
    headers: &HeaderMap,
    catalog: &flag_rows::Catalog,
) -> Result<Option<Onboarding>, UiError> {
    use std::sync::atomic::Ordering::Relaxed;
    if steps.done.load(Relaxed) {
        return Ok(None);
    }
    let keys = state.store.read().await?.sdk_keys(None).await?;
    if keys.iter().any(|k| k.last_used_at.is_some()) {
        steps.done.store(true, Relaxed);
        return Ok(None);
    }
    let newest = keys.iter().filter(|k| k.revoked_at.is_none()).max_by_key(|k| (k.created_at, k.id));
    let environment = newest.map(|k| k.environment_key.clone()).or_else(|| {
        let production = catalog.columns.iter().find(|c| c.key == "production").or(catalog.columns.first());
        production.map(|c| c.key.clone())
    });
    let first = catalog.rows.first().map(|r| r.key.clone());
    Ok(Some(Onboarding {
        base_url: base_url(headers),
        environment: environment.unwrap_or_else(|| "production".into()),
        key_name: newest.map(|k| k.name.clone()),
        has_flag: first.is_some(),
        flag: first.unwrap_or_else(|| "new-checkout".into()),
    }))
}

/// This server's URL as the browser reached it (`Host`, and `https` when a
/// proxy says so): only shown in snippets, escaped like any text.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost:8080");
    let https = headers.get("x-forwarded-proto").is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// The list page (also re-rendered with the create form's errors).
async fn list_page<B: Backend>(
    state: &AppState<B>,
    (kept, steps): (&CatalogCache, &FirstSteps),
    user: &UiUser,
    headers: &HeaderMap,
    filter: FlagsFilter,
    new_flag: NewFlagView,
) -> Result<FlagsPage, UiError> {
    let (table, catalog, total) = table(state, kept, user, filter.clone()).await?;
    let onboarding = if user.role >= Role::Editor { onboarding(state, steps, headers, &catalog).await? } else { None };
    Ok(FlagsPage {
        layout: frame(user, headers, "Flags", Section::Flags),
        filter,
        tags: catalog.tags.clone(),
        table,
        total,
        new_flag,
        onboarding,
    })
}

async fn list<B: Backend>(
    State(state): State<AppState<B>>,
    Extension(kept): Extension<Arc<CatalogCache>>,
    Extension(steps): Extension<Arc<FirstSteps>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Params(filter): Params<FlagsFilter>,
) -> Result<Response, UiError> {
    let view = list_page(&state, (&kept, &steps), &user, &headers, filter, NewFlagView::default()).await?;
    Ok(page(&user, &view))
}

async fn rows<B: Backend>(
    State(state): State<AppState<B>>,
    Extension(kept): Extension<Arc<CatalogCache>>,
    Signed(user): Signed,
    Params(filter): Params<FlagsFilter>,
) -> Result<Response, UiError> {
    let (table, _, _) = table(&state, &kept, &user, filter).await?;
    let mut response = super::answer::render(&table);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some([(name, value)]) = user.cookie_renewal() {
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

/// The create form as the service's input, or the problems by field.
fn flag_input(form: &NewFlagForm) -> Result<FlagInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let type_name = if form.value_type.is_empty() { "boolean" } else { form.value_type.as_str() };
    let kind = serde_json::from_value::<FlagType>(serde_json::Value::String(type_name.to_owned()));
    if kind.is_err() {
        errors.push(FieldError::new("type", "choose boolean, string, number or json"));
    }
    let mut variants = Vec::new();
    for (n, line) in form.variants.lines().map(str::trim).enumerate().filter(|(_, l)| !l.is_empty()) {
        let Some((key, value)) = line.split_once('=') else {
            errors.push(FieldError::new("variants", format!("line {}: expected key=value", n + 1)));
            continue;
        };
        let value = value.trim();
        let parsed = match serde_json::from_str(value) {
            Ok(v) => v,
            // Plain text is a fine string value.
            Err(_) if type_name == "string" => serde_json::Value::String(value.to_owned()),
            Err(e) => {
                errors.push(FieldError::new("variants", format!("line {}: the value is not JSON ({e})", n + 1)));
                continue;
            }
        };
        variants.push(Variant { key: key.trim().to_owned(), value: parsed });
    }
    let Ok(kind) = kind else { return Err(errors) };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(FlagInput {
        key: form.key.trim().to_owned(),
        name: Some(form.name.trim().to_owned()).filter(|n| !n.is_empty()),
        description: form.description.trim().to_owned(),
        kind,
        variants: if variants.is_empty() && kind == FlagType::Boolean { None } else { Some(variants) },
        tags: form.tags.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect(),
        off_variant: None,
        default_variant: None,
    })
}

/// The create form's field for a service error path.
fn form_field(path: &str) -> &'static str {
    let head = path.split(['.', '[']).next().unwrap_or_default();
    match head {
        "key" => "key",
        "name" => "name",
        "type" => "type",
        "description" => "description",
        "tags" => "tags",
        _ => "variants",
    }
}

/// Problems of a failed create, by form field (`None`: not the input's fault).
pub(super) fn create_errors(e: &DomainError) -> Option<Vec<FieldError>> {
    match e {
        DomainError::Invalid { errors, .. } => Some(
            errors
                .iter()
                .map(|f| {
                    // Next to its own field the message stands alone; on
                    // another (a variant's value) it says where, in words.
                    let field = form_field(&f.path);
                    let message = if field == f.path {
                        f.message.clone()
                    } else {
                        format!("{}: {}", flagyard_web::FieldError::new(f.path.as_str(), "").place(), f.message)
                    };
                    FieldError::new(field, message)
                })
                .collect(),
        ),
        DomainError::Conflict(_)
        | DomainError::ConflictAt { .. }
        | DomainError::Store(crate::store::StoreError::Duplicate) => {
            Some(vec![FieldError::new("key", "a flag with this key already exists")])
        }
        _ => None,
    }
}

async fn create<B: Backend>(
    State(state): State<AppState<B>>,
    Extension(kept): Extension<Arc<CatalogCache>>,
    Extension(steps): Extension<Arc<FirstSteps>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Posted(form): Posted<NewFlagForm>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, &form.csrf, Role::Editor)?;
    let result = match flag_input(&form) {
        Ok(input) => {
            let actor = user.actor();
            write_value(&state, move |tx| Box::pin(async move { service::create_flag(tx, &actor, input).await }))
                .await
                .map_err(|e| create_errors(&e).ok_or(e))
        }
        Err(errors) => Err(Ok(errors)),
    };
    match result {
        Ok(view) => {
            let message = format!("Flag {} created (off everywhere).", view.key);
            Ok(see_other_with(&format!("/flags/{}", view.key), FlashKind::Success, &message))
        }
        Err(Ok(errors)) => {
            let new_flag = NewFlagView { form: NewFlagForm { csrf: String::new(), ..form }, errors };
            let view = list_page(&state, (&kept, &steps), &user, &headers, FlagsFilter::default(), new_flag).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page(&user, &view)).into_response())
        }
        Err(Err(e)) => Err(e.into()),
    }
}

/// Where a plain (non-htmx) form goes back to: the page it came from.
pub(super) fn back(headers: &HeaderMap) -> String {
    referer_path(headers, "/flags").unwrap_or_else(|| "/flags".to_owned())
}

/// A "turn on / off?" page for a production toggle posted without `confirm=yes`.
fn confirm_toggle(user: &UiUser, headers: &HeaderMap, key: &str, env: &str, form: &ToggleForm) -> Response {
    let verb = if form.enabled { "on" } else { "off" };
    let back_to = toggle_return(headers, key, env, form);
    let fields = vec![("enabled".to_owned(), form.enabled.to_string()), ("return".to_owned(), back_to.clone())];
    let view = ConfirmPage {
        layout: frame(user, headers, "Confirm", Section::Flags),
        question: format!("Turn {key} {verb} in {env}?"),
        detail: format!("Every SDK and OFREP client in {env} serves the {verb} state at once."),
        action: format!("/flags/{key}/environments/{env}/toggle"),
        fields,
        confirm_label: format!("Turn {verb} in {env}"),
        cancel_href: back_to,
    };
    page(user, &view)
}

/// Where a toggle goes back to: the `return` field (a local path), else the
/// page it was posted from, unless that is a form's address (the
/// confirmation page is shown at `…/toggle`, which answers only POST):
/// then the flag's page.
fn toggle_return(headers: &HeaderMap, key: &str, env: &str, form: &ToggleForm) -> String {
    let from = if form.return_to.is_empty() { back(headers) } else { local_path(&form.return_to).to_owned() };
    if from.split(['?', '#']).next().is_some_and(|p| p.ends_with("/toggle")) {
        format!("/flags/{key}?env={}", super::answer::encode(env))
    } else {
        from
    }
}

async fn toggle<B: Backend>(
    State(state): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path((key, env)): Path<(String, String)>,
    Posted(form): Posted<ToggleForm>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, &form.csrf, Role::Editor)?;
    if is_production(&env) && form.confirm != "yes" {
        return Ok(confirm_toggle(&user, &headers, &key, &env, &form));
    }
    let (actor, flag, environment, wanted) = (user.actor(), key.clone(), env.clone(), form.enabled);
    let outcome = write_value(&state, move |tx| {
        Box::pin(async move {
            let current = service::get_config(tx, &flag, &environment).await?;
            if current.config.enabled == wanted {
                return Ok(false);
            }
            // No base revision: the kill switch wins over edits saved since
            // the page loaded (it changes only `enabled`, to the state asked for).
            let patch = ConfigWrite { enabled: Some(wanted), ..ConfigWrite::default() };
            service::patch_config(tx, &actor, &flag, &environment, patch).await?;
            Ok(true)
        })
    })
    .await;
    let row_swap =
        is_htmx(&headers) && headers.get("hx-target").is_some_and(|t| t.as_bytes() == format!("flag-{key}").as_bytes());
    let verb = if form.enabled { "on" } else { "off" };
    let (status, kind, message) = match outcome {
        Ok(changed) => {
            let message = if changed {
                format!("Turned {key} {verb} in {env}.")
            } else {
                format!("{key} was already {verb} in {env}.")
            };
            (StatusCode::OK, FlashKind::Success, message)
        }
        Err(DomainError::Conflict(m) | DomainError::ConflictAt { message: m, .. }) => {
            (StatusCode::CONFLICT, FlashKind::Error, m)
        }
        Err(e) => return Err(e.into()),
    };
    if row_swap {
        let mut tx = state.store.read().await?;
        let row = flag_rows::load_row(&mut tx, &key).await?;
        drop(tx);
        let fragment = FlagRowFragment { csrf: user.csrf.clone(), row, can_edit: true };
        return Ok((status, page(&user, &fragment)).into_response());
    }
    Ok(done(&headers, &toggle_return(&headers, &key, &env, &form), kind, &message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(kind: &str, variants: &str) -> NewFlagForm {
        NewFlagForm {
            key: "k".into(),
            value_type: kind.into(),
            variants: variants.into(),
            tags: " a, ,b ".into(),
            ..NewFlagForm::default()
        }
    }

    #[test]
    fn create_form_parsing() {
        let input = flag_input(&form("", "")).expect("boolean");
        assert!(input.variants.is_none() && input.kind == FlagType::Boolean && input.tags == ["a", "b"]);
        let input = flag_input(&form("string", "blue=\"blue\"\ngreen=green\n")).expect("string");
        let values: Vec<_> = input.variants.unwrap_or_default().into_iter().map(|v| v.value).collect();
        assert_eq!(values, [serde_json::json!("blue"), serde_json::json!("green")]);
        let errors = flag_input(&form("number", "one=1\ntwo=zwei\nthree")).err().unwrap_or_default();
        assert_eq!(errors.len(), 2);
        assert!(errors.iter().all(|e| e.path == "variants"));
        assert_eq!(flag_input(&form("float", "")).err().unwrap_or_default()[0].path, "type");
        assert_eq!(form_field("variants[1].value"), "variants");
        assert_eq!(form_field("offVariant"), "variants");
        assert_eq!(form_field("key"), "key");
    }
}
