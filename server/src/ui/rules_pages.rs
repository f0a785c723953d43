//! `POST /flags/{key}/environments/{env}/rules`: the rules editor.
//!
//! The form is parsed into a draft that keeps the input as typed. A
//! structural action (add, remove, move, refresh) re-renders the editor
//! without saving. A save converts the draft to rules JSON and sends it
//! through the API's own path (`service::put_config` with the posted
//! `baseRevision` and the current kill switch), so the engine validates it;
//! its errors come back with paths equal to the field names and are shown
//! next to the fields, the input kept (422). A stale revision is a 409 shown
//! the same way. Saving in production needs the `confirm` checkbox. With
//! `scheduleAt`, the change is scheduled instead (a release of one change,
//! shown on its release page).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use flagyard_web::{ConfigDraft, EditorAction, FieldError, FlashKind};
use serde_json::Value;

use super::answer::{is_htmx, see_other_with};
use super::error::UiError;
use super::flag_detail::editor_answer;
use super::request::{Posted, Signed, authorize, field, is_production, write_value};
use crate::auth::Role;
use crate::http::ApiError;
use crate::http::UiUser;
use crate::service::Error as DomainError;
use crate::service::{self, ConfigView, ConfigWrite, ScheduledChangeInput};
use crate::state::AppState;
use crate::store::Backend;

/// The service's error paths, relative to the editor's fields.
fn field_errors(errors: &[crate::http::FieldError], key: &str, env: &str) -> Vec<FieldError> {
    let prefix = format!("flags.{key}.environments.{env}.");
    errors
        .iter()
        .map(|e| FieldError::new(e.path.strip_prefix(prefix.as_str()).unwrap_or(&e.path), e.message.clone()))
        .collect()
}

/// The draft's JSON as the API's `PUT` body, or the problems by field path.
fn write_body(json: Value) -> Result<ConfigWrite, Vec<FieldError>> {
    serde_path_to_error::deserialize::<_, ConfigWrite>(json).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        vec![FieldError::new(path, e.into_inner().to_string())]
    })
}

/// The draft of a configuration just saved, with the "saved" notice.
fn saved(view: &ConfigView) -> Result<(ConfigDraft, Vec<FieldError>, Option<String>), ApiError> {
    let json = serde_json::to_value(&view.config)
        .map_err(|e| DomainError::Store(crate::store::StoreError::Corrupt(e.to_string())))?;
    let draft = ConfigDraft::from_json(&json, u64::try_from(view.revision).unwrap_or(0));
    Ok((draft, Vec::new(), Some(format!("Saved as revision {}.", view.revision))))
}

pub(super) async fn save<B: Backend>(
    State(state): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path((key, env)): Path<(String, String)>,
    Posted(pairs): Posted<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, field(&pairs, "csrf"), Role::Editor)?;
    let (mut draft, action) = ConfigDraft::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let at = (key.as_str(), env.as_str());
    if draft.apply(action) || action == EditorAction::Refresh {
        return editor_answer(&state, &user, &headers, at, StatusCode::OK, (draft, Vec::new(), None)).await;
    }
    let mut errors = Vec::new();
    let json = draft.to_json().unwrap_or_else(|e| {
        errors = e;
        Value::Null
    });
    if is_production(&env) && !draft.confirmed {
        errors.push(FieldError::new("confirm", format!("tick the box to confirm saving in {env}")));
    }
    let body = if errors.is_empty() { write_body(json) } else { Err(errors) };
    let mut body = match body {
        Ok(body) => body,
        Err(errors) => {
            return editor_answer(&state, &user, &headers, at, StatusCode::UNPROCESSABLE_ENTITY, (draft, errors, None))
                .await;
        }
    };
    let schedule_at = draft.schedule_at.clone();
    if !schedule_at.is_empty() {
        return schedule(&state, &user, &headers, at, draft, body, schedule_at).await;
    }
    let (actor, flag, environment) = (user.actor(), key.clone(), env.clone());
    let outcome = write_value(&state, move |tx| {
        Box::pin(async move {
            // The editor does not carry the kill switch: keep it as it is.
            let current = service::get_config(tx, &flag, &environment).await?;
            body.enabled = Some(current.config.enabled);
            service::put_config(tx, &actor, &flag, &environment, body).await
        })
    })
    .await;
    match outcome {
        Ok(view) if is_htmx(&headers) => {
            editor_answer(&state, &user, &headers, at, StatusCode::OK, saved(&view)?).await
        }
        Ok(view) => {
            let message = format!("Saved the rules of {key} in {env} as revision {}.", view.revision);
            let to = format!("/flags/{key}?env={}", super::answer::encode(&env));
            Ok(see_other_with(&to, FlashKind::Success, &message))
        }
        Err(DomainError::Invalid { errors, .. }) => {
            let errors = field_errors(&errors, &key, &env);
            editor_answer(&state, &user, &headers, at, StatusCode::UNPROCESSABLE_ENTITY, (draft, errors, None)).await
        }
        Err(DomainError::Conflict(message)) => {
            let errors = vec![FieldError::new("baseRevision", message)];
            editor_answer(&state, &user, &headers, at, StatusCode::CONFLICT, (draft, errors, None)).await
        }
        Err(DomainError::ConflictAt { path, message }) => {
            let errors = vec![FieldError::new(path, message)];
            editor_answer(&state, &user, &headers, at, StatusCode::CONFLICT, (draft, errors, None)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// "Schedule this change": the editor's configuration (the kill switch
/// left as it is when the change runs) as a scheduled one-change release
/// at `at`, based on the revision the editor was loaded at; then the
/// release's page.
async fn schedule<B: Backend>(
    state: &AppState<B>,
    user: &UiUser,
    headers: &HeaderMap,
    (key, env): (&str, &str),
    draft: ConfigDraft,
    body: ConfigWrite,
    at: String,
) -> Result<Response, UiError> {
    let (actor, flag, environment) = (user.actor(), key.to_owned(), env.to_owned());
    let input = ScheduledChangeInput {
        at,
        expires_at: None,
        on_stale: None,
        enabled: None,
        off_variant: body.off_variant,
        default_variant: body.default_variant,
        prerequisites: body.prerequisites,
        rules: body.rules,
        base_revision: body.base_revision,
    };
    let outcome = write_value(state, move |tx| {
        Box::pin(async move { service::schedule_change(tx, &actor, &flag, &environment, input).await })
    })
    .await;
    state.scheduler.wake();
    match outcome {
        Ok(r) => {
            let message = format!(
                "Scheduled the change of {key} in {env} for {} as release {}.",
                r.scheduled_at.as_deref().unwrap_or("?"),
                r.id
            );
            Ok(see_other_with(&format!("/releases/{}", r.id), FlashKind::Success, &message))
        }
        Err(DomainError::Invalid { errors, .. }) => {
            let errors = errors
                .iter()
                .map(|e| {
                    let path = match e.path.as_str() {
                        "at" => "scheduleAt",
                        p => p.strip_prefix("changes[0].").unwrap_or(p),
                    };
                    FieldError::new(path, e.message.clone())
                })
                .collect();
            editor_answer(state, user, headers, (key, env), StatusCode::UNPROCESSABLE_ENTITY, (draft, errors, None))
                .await
        }
        Err(DomainError::Conflict(message)) => {
            let errors = vec![FieldError::new("baseRevision", message)];
            editor_answer(state, user, headers, (key, env), StatusCode::CONFLICT, (draft, errors, None)).await
        }
        Err(DomainError::ConflictAt { path, message }) => {
            let errors = vec![FieldError::new(path.strip_prefix("changes[0].").unwrap_or(&path), message)];
            editor_answer(state, user, headers, (key, env), StatusCode::CONFLICT, (draft, errors, None)).await
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_paths_become_field_names() {
        let errors = [crate::http::FieldError {
            path: "flags.f.environments.prod.rules[0].serve.split.variants".into(),
            message: "weights add up to 9000".into(),
        }];
        assert_eq!(field_errors(&errors, "f", "prod")[0].path, "rules[0].serve.split.variants");
    }

    #[test]
    fn body_shape_errors_name_the_field() {
        let json = serde_json::json!({"offVariant": "off", "defaultVariant": "on", "rules": [{"serve": 3}]});
        let errors = write_body(json).err().unwrap_or_default();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].path.starts_with("rules[0]"), "{errors:?}");
    }
}
