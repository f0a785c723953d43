//! Segment pages: the list (with the flags using each segment), the create
//! and edit forms ([`SegmentDraft`], the condition editor of the rules
//! editor), saved through the same services as the admin API.

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use flagyard_web::{ConditionDraft, FieldError, FlashKind, SegmentDraft, SegmentPage, SegmentRow, SegmentsPage};

use super::answer::{done, frame, page, with_status};
use super::deletion::{Deletion, delete_confirmed, refused_as_is};
use super::error::{UiError, form_errors};
use super::request::{Pairs, Posted, Signed, authorize, field, write_value};
use crate::auth::Role;
use crate::http::{ApiError, UiUser};
use crate::service::Error as DomainError;
use crate::service::{self, SegmentInput, SegmentView};
use crate::state::AppState;
use crate::store::{Backend, Queries, SegmentQueries};

pub(super) fn routes<B: Backend>() -> Router<AppState<B>> {
    Router::new()
        .route("/segments", get(list::<B>).post(create::<B>))
        .route("/segments/new", get(new::<B>))
        .route("/segments/{key}", get(edit::<B>).post(update::<B>))
        .route("/segments/{key}/delete", axum::routing::post(delete::<B>))
}

/// Segment keys used by each flag's configurations (any environment): one
/// query that returns only configurations naming a segment, which are parsed.
async fn segment_users<T: Queries>(tx: &mut T) -> Result<BTreeMap<String, BTreeSet<String>>, ApiError> {
    let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (flag, config) in tx.segment_conditions().await? {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&config) else { continue };
        let conditions = value["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["conditions"].as_array().map(|c| c.as_slice()).unwrap_or_default().iter());
        for c in conditions {
            if matches!(c["op"].as_str(), Some("segment" | "not_segment")) {
                for key in c["values"].as_array().into_iter().flatten().filter_map(|v| v.as_str()) {
                    users.entry(key.to_owned()).or_default().insert(flag.clone());
                }
            }
        }
    }
    Ok(users)
}

async fn list<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let mut tx = s.store.read().await?;
    let segments = service::list_segments(&mut tx).await?;
    let users = if segments.is_empty() { BTreeMap::new() } else { segment_users(&mut tx).await? };
    drop(tx);
    let rows = segments
        .into_iter()
        .map(|seg| SegmentRow {
            used_by: users.get(&seg.key).map(|u| u.iter().cloned().collect()).unwrap_or_default(),
            conditions: seg.definition.conditions.len(),
            included: seg.definition.included.len(),
            excluded: seg.definition.excluded.len(),
            description: seg.description,
            key: seg.key,
        })
        .collect();
    let layout = frame(&user, &headers, "Segments", flagyard_web::Section::Segments);
    Ok(page(&user, &SegmentsPage { layout, segments: rows }))
}

/// The keys of every segment but `except`.
async fn other_segments<B: Backend>(s: &AppState<B>, except: &str) -> Result<Vec<String>, UiError> {
    let mut tx = s.store.read().await?;
    let all = tx.segments().await?;
    Ok(all.into_iter().map(|seg| seg.key).filter(|k| k != except).collect())
}

fn draft_of(view: &SegmentView) -> SegmentDraft {
    SegmentDraft {
        base_revision: view.revision.to_string(),
        key: view.key.clone(),
        description: view.description.clone(),
        included: view.definition.included.clone(),
        excluded: view.definition.excluded.clone(),
        conditions: view
            .definition
            .conditions
            .iter()
            .map(|c| ConditionDraft::from_json(&serde_json::to_value(c).unwrap_or_default()))
            .collect(),
    }
}

fn segment_page(
    user: &UiUser,
    headers: &HeaderMap,
    is_new: bool,
    draft: SegmentDraft,
    segments: Vec<String>,
    errors: Vec<FieldError>,
) -> SegmentPage {
    let title = if is_new { "New segment".to_owned() } else { format!("Segment {}", draft.key) };
    let layout = frame(user, headers, title, flagyard_web::Section::Segments);
    SegmentPage { layout, is_new, draft, segments, errors }
}

async fn new<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let segments = other_segments(&s, "").await?;
    Ok(page(&user, &segment_page(&user, &headers, true, SegmentDraft::default(), segments, Vec::new())))
}

async fn edit<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Result<Response, UiError> {
    let mut tx = s.store.read().await?;
    let view = service::get_segment(&mut tx, &key).await?;
    drop(tx);
    let segments = other_segments(&s, &key).await?;
    Ok(page(&user, &segment_page(&user, &headers, false, draft_of(&view), segments, Vec::new())))
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

/// Saves (or, for the editor's buttons, re-renders) a segment: `key` is
/// `None` when creating.
async fn save<B: Backend>(
    s: AppState<B>,
    user: UiUser,
    headers: HeaderMap,
    key: Option<String>,
    pairs: Pairs,
) -> Result<Response, UiError> {
    authorize(&user, &headers, field(&pairs, "csrf"), Role::Editor)?;
    let (mut draft, action) = SegmentDraft::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let is_new = key.is_none();
    if let Some(key) = &key {
        if !draft.key.is_empty() && &draft.key != key {
            return Err(DomainError::invalid("key", "a segment's key cannot change").into());
        }
        draft.key.clone_from(key);
    }
    let others = other_segments(&s, key.as_deref().unwrap_or("")).await?;
    if draft.apply(&action) {
        return Ok(page(&user, &segment_page(&user, &headers, is_new, draft, others, Vec::new())));
    }
    let input = draft.to_json().and_then(|json| {
        serde_json::from_value::<SegmentInput>(json).map_err(|e| vec![FieldError::new("", e.to_string())])
    });
    let input = match input {
        Ok(input) => input,
        Err(errors) => {
            let page_ = segment_page(&user, &headers, is_new, draft, others, errors);
            return Ok(with_status(StatusCode::UNPROCESSABLE_ENTITY, page(&user, &page_)));
        }
    };
    let actor = user.actor();
    let saved = match key.clone() {
        None => {
            write_value(&s, move |tx| Box::pin(async move { service::create_segment(tx, &actor, input).await })).await
        }
        Some(key) => {
            write_value(&s, move |tx| Box::pin(async move { service::update_segment(tx, &actor, &key, input).await }))
                .await
        }
    };
    match saved {
        Ok(view) => {
            let message = format!("Segment {} saved (revision {}).", view.key, view.revision);
            Ok(done(&headers, &format!("/segments/{}", view.key), FlashKind::Success, &message))
        }
        Err(e) => {
            let (status, errors) = form_errors(e, &format!("segments.{}.", draft.key))?;
            let page_ = segment_page(&user, &headers, is_new, draft, others, errors);
            Ok(with_status(status, page(&user, &page_)))
        }
    }
}

/// `POST /segments/{key}/delete`: asks first; refused in words while used.
async fn delete<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(key): Path<String>,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    let d = Deletion {
        question: format!("Delete segment {key}?"),
        detail: "This cannot be undone; it is refused while a flag's rules or another segment refer to it.",
        confirm_label: "Delete the segment",
        item: format!("/segments/{key}"),
        action: format!("/segments/{key}/delete"),
        list: "/segments",
        deleted: format!("Segment {key} deleted."),
        section: flagyard_web::Section::Segments,
    };
    let actor = user.actor();
    delete_confirmed(&s, &user, &headers, &pairs, d, refused_as_is, move |tx| {
        Box::pin(async move { service::delete_segment(tx, &actor, &key).await })
    })
    .await
}
