//! Metric pages: the list (with the experiments using each metric), the
//! create and edit forms, and delete (confirmed; refused in words while an
//! experiment uses the metric) — over the same services as the admin API.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use flagyard_web::{FieldError, FlashKind, MetricForm, MetricPage, MetricRow, MetricsPage, Section};

use super::answer::{done, frame, page, with_status};
use super::deletion::{Deletion, delete_confirmed, refused_as_is};
use super::error::{UiError, form_errors};
use super::request::{Pairs, Posted, Signed, authorize, field, write_value};
use crate::auth::Role;
use crate::http::UiUser;
use crate::service::{self, MetricInput, MetricView};
use crate::state::AppState;
use crate::store::{Backend, MetricQueries};

pub(super) fn routes<B: Backend>() -> Router<AppState<B>> {
    Router::new()
        .route("/experiment-metrics", get(list::<B>).post(create::<B>))
        .route("/experiment-metrics/new", get(new::<B>))
        .route("/experiment-metrics/{key}", get(edit::<B>).post(update::<B>))
        .route("/experiment-metrics/{key}/delete", post(delete::<B>))
}

async fn list<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let mut tx = s.store.read().await?;
    let records = tx.metrics().await?;
    let mut metrics = Vec::with_capacity(records.len());
    for m in records {
        let used_by = tx.metric_users(m.id).await?;
        metrics.push(MetricRow {
            key: m.key,
            name: m.name,
            event: m.event,
            kind: m.kind,
            good_direction: m.good_direction,
            guardrail: m.guardrail,
            used_by,
        });
    }
    drop(tx);
    let layout = frame(&user, &headers, "Metrics", Section::Metrics);
    Ok(page(&user, &MetricsPage { layout, metrics }))
}

fn form_of(view: &MetricView) -> MetricForm {
    MetricForm {
        base_revision: view.revision.to_string(),
        key: view.key.clone(),
        name: if view.name == view.key { String::new() } else { view.name.clone() },
        description: view.description.clone(),
        event: view.event.clone(),
        kind: view.kind.clone(),
        good_direction: view.good_direction.clone(),
        guardrail: view.guardrail,
    }
}

fn metric_page(
    user: &UiUser,
    headers: &HeaderMap,
    is_new: bool,
    form: MetricForm,
    used_by: Vec<String>,
    errors: Vec<FieldError>,
) -> MetricPage {
    let title = if is_new { "New metric".to_owned() } else { format!("Metric {}", form.key) };
    MetricPage { layout: frame(user, headers, title, Section::Metrics), is_new, form, errors, used_by }
}

/// The experiments using metric `key` (none when it does not exist).
async fn users_of<B: Backend>(s: &AppState<B>, key: &str) -> Result<Vec<String>, UiError> {
    let mut tx = s.store.read().await?;
    Ok(match tx.metric(key).await? {
        Some(m) => tx.metric_users(m.id).await?,
        None => Vec::new(),
    })
}

async fn new<B: Backend>(
    State(_s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    Ok(page(&user, &metric_page(&user, &headers, true, MetricForm::default(), Vec::new(), Vec::new())))
}

async fn edit<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Result<Response, UiError> {
    let mut tx = s.store.read().await?;
    let view = service::get_metric(&mut tx, &key).await?;
    drop(tx);
    let used_by = users_of(&s, &key).await?;
    Ok(page(&user, &metric_page(&user, &headers, false, form_of(&view), used_by, Vec::new())))
}

async fn create<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    save(s, user, headers, None, pairs).await
}

async fn update<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(key): Path<String>,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    save(s, user, headers, Some(key), pairs).await
}

/// Creates (`key` is `None`) or replaces a metric; a refusal re-renders the
/// form as typed with the reasons next to the fields.
async fn save<B: Backend>(
    s: AppState<B>,
    user: UiUser,
    headers: HeaderMap,
    key: Option<String>,
    pairs: Pairs,
) -> Result<Response, UiError> {
    authorize(&user, &headers, field(&pairs, "csrf"), Role::Editor)?;
    let mut form = MetricForm::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let is_new = key.is_none();
    if let Some(key) = &key {
        form.key.clone_from(key);
    }
    let input = serde_json::from_value::<MetricInput>(form.to_json());
    let actor = user.actor();
    let saved = match (input, key.clone()) {
        (Err(e), _) => Err(service::Error::invalid("", e.to_string())),
        (Ok(input), None) => {
            write_value(&s, move |tx| Box::pin(async move { service::create_metric(tx, &actor, input).await })).await
        }
        (Ok(input), Some(key)) => {
            write_value(&s, move |tx| Box::pin(async move { service::update_metric(tx, &actor, &key, input).await }))
                .await
        }
    };
    match saved {
        Ok(view) => {
            let message = format!("Metric {} saved (revision {}).", view.key, view.revision);
            Ok(done(&headers, &format!("/experiment-metrics/{}", view.key), FlashKind::Success, &message))
        }
        Err(e) => {
            let (status, errors) = form_errors(e, "")?;
            let used_by = if is_new { Vec::new() } else { users_of(&s, &form.key).await? };
            let view = metric_page(&user, &headers, is_new, form, used_by, errors);
            Ok(with_status(status, page(&user, &view)))
        }
    }
}

async fn delete<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(key): Path<String>,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    let d = Deletion {
        question: format!("Delete metric {key}?"),
        detail: "Its definition goes; track events already recorded stay, and a new metric can read them again.",
        confirm_label: "Delete the metric",
        item: format!("/experiment-metrics/{key}"),
        action: format!("/experiment-metrics/{key}/delete"),
        list: "/experiment-metrics",
        deleted: format!("Metric {key} deleted."),
        section: Section::Metrics,
    };
    let actor = user.actor();
    delete_confirmed(&s, &user, &headers, &pairs, d, refused_as_is, move |tx| {
        Box::pin(async move { service::delete_metric(tx, &actor, &key).await })
    })
    .await
}
