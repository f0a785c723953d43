//! The flag page, `GET /flags/{key}?env={env}`: definition, variants, one
//! tab per environment with its kill switch and rules editor, "test a
//! context" (`POST …/environments/{env}/test`, evaluated by the engine on
//! the environment's current compiled rules, as OFREP does) and copying the
//! configuration to another environment (`POST /flags/{key}/copy`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use flagyard_eval::{Context, Ruleset};
use flagyard_web::{
    ConfigDraft, ConfirmPage, CopyConfigForm, EnvState, EnvTab, Evaluation, FieldError, FlagExperimentLink, FlagPage,
    FlashKind, RulesEditor, Section, TestContextForm, TestContextPanel, TestContextResult, VariantView,
};
use serde::Deserialize;
use serde_json::Value;

use super::answer::{done, frame, is_htmx, page, see_other_with};
use super::error::UiError;
use super::request::{Params, Posted, Signed, authorize, is_production, write_value};
use crate::auth::Role;
use crate::http::UiUser;
use crate::service::Error as DomainError;
use crate::service::rules::{Edits, Reach, definition, snapshot};
use crate::service::{self};
use crate::state::AppState;
use crate::store::{
    Backend, ConfigQueries, EnvironmentQueries, ExperimentQueries, FlagQueries, FlagQuery, SegmentQueries, StoreError,
};

/// Largest number of other flags offered as prerequisites.
const PICKER_FLAGS: i64 = 1000;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct EnvQuery {
    env: String,
}

/// What the flag page shows in place of the stored configuration: the
/// editor as posted (with its errors or notice) and the last test.
#[derive(Debug, Default)]
pub(super) struct Overrides {
    pub editor: Option<(ConfigDraft, Vec<FieldError>, Option<String>)>,
    pub test: TestContextPanel,
    /// The ramp start form as posted, with why it was refused.
    pub ramp_form: Option<(flagyard_web::StartRampForm, String)>,
}

fn corrupt(e: impl std::fmt::Display) -> DomainError {
    DomainError::Store(StoreError::Corrupt(e.to_string()))
}

/// The flag page of `key` with environment `env` (empty: the first) current.
pub(super) async fn flag_page<B: Backend>(
    state: &AppState<B>,
    user: &UiUser,
    headers: &HeaderMap,
    key: &str,
    env: &str,
    overrides: Overrides,
) -> Result<FlagPage, UiError> {
    let mut tx = state.store.read().await?;
    let flag = tx.flag(key).await?.ok_or_else(|| DomainError::NotFound(format!("flag `{key}`")))?;
    let environments = tx.environments().await?;
    let configs = tx.configs_of_flag(flag.id).await?;
    let segments: Vec<String> = tx.segments().await?.into_iter().map(|s| s.key).collect();
    let query = FlagQuery { search: None, tag: None, archived: None, limit: PICKER_FLAGS, offset: 0 };
    let flags: Vec<String> = tx.flags(&query).await?.0.into_iter().map(|f| f.key).filter(|k| k != key).collect();
    let experiments = tx.experiments_of_flag(flag.id).await?;

    let current = if env.is_empty() { environments.first().map(|e| e.key.as_str()).unwrap_or_default() } else { env };
    let mut tabs = Vec::with_capacity(environments.len());
    let mut editing = None;
    for e in &environments {
        let Some(config) = configs.iter().find(|c| c.environment_id == e.id) else { continue };
        let json: Value = serde_json::from_str(&config.config).map_err(corrupt)?;
        let revision = u64::try_from(config.revision).unwrap_or(0);
        let state = EnvState {
            environment: e.key.clone(),
            enabled: json.get("enabled").and_then(Value::as_bool).unwrap_or(false),
            production: is_production(&e.key),
            revision,
        };
        let is_current = e.key == current;
        if is_current {
            editing = Some((ConfigDraft::from_json(&json, revision), e.key.clone()));
        }
        tabs.push(EnvTab { state, current: is_current });
    }
    let Some((stored, environment)) = editing else {
        return Err(DomainError::NotFound(format!("flag `{key}` in environment `{current}`")).into());
    };
    let env_id = environments.iter().find(|e| e.key == environment).map_or(0, |e| e.id);
    let config = configs.iter().find(|c| c.environment_id == env_id).map(|c| c.config.as_str()).unwrap_or("{}");
    let config: flagyard_eval::FlagConfig = serde_json::from_str(config).map_err(corrupt)?;
    let now = state.scheduler.now_ms();
    let mut ramp =
        super::ramp_panel::panel(&mut tx, user, (flag.id, &flag.key), (env_id, &environment), &config, now).await?;
    drop(tx);
    if let Some((form, error)) = overrides.ramp_form {
        ramp.form = form;
        ramp.error = Some(error);
    }
    let (kind, variants) = definition(&flag)?;
    let (draft, errors, notice) = overrides.editor.unwrap_or((stored, Vec::new(), None));
    let editor = RulesEditor {
        csrf: user.csrf.clone(),
        flag_key: flag.key.clone(),
        production: is_production(&environment),
        environment,
        draft,
        errors,
        variants: variants.iter().map(|v| v.key.clone()).collect(),
        segments,
        flags,
        can_edit: user.role >= Role::Editor,
        notice,
    };
    let tags: Vec<String> = serde_json::from_str(&flag.tags).map_err(corrupt)?;
    Ok(FlagPage {
        layout: frame(user, headers, flag.key.clone(), Section::Flags),
        name: if flag.name == flag.key { String::new() } else { flag.name.clone() },
        key: flag.key,
        description: flag.description,
        value_type: kind.as_str().to_owned(),
        tags,
        archived: flag.archived,
        revision: flag.revision,
        variants: variants
            .iter()
            .map(|v| VariantView { key: v.key.clone(), value_json: v.value.to_string() })
            .collect(),
        environments: tabs,
        editor,
        test: overrides.test,
        experiments: experiments
            .into_iter()
            .map(|x| FlagExperimentLink { key: x.key, environment: x.environment_key, state: x.state })
            .collect(),
        ramp,
    })
}

pub(super) async fn show<B: Backend>(
    State(state): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(key): Path<String>,
    Params(query): Params<EnvQuery>,
) -> Result<Response, UiError> {
    let view = flag_page(&state, &user, &headers, &key, &query.env, Overrides::default()).await?;
    Ok(page(&user, &view))
}

/// Evaluates `key` for `ctx` on `rules`.
fn evaluate(rules: &Ruleset, key: &str, ctx: &Context<'_>) -> Result<Evaluation, String> {
    let d = rules.evaluate(key, ctx);
    match d.value() {
        Some(value) => Ok(Evaluation {
            value_json: value.to_string(),
            variant: d.variant().unwrap_or_default().to_owned(),
            reason: d.to_string(),
            bucket: d.bucket().map(u32::from),
        }),
        None => Err(format!("no value: {d}")),
    }
}

/// Evaluates `key` in `env` for the typed context, on the environment's
/// current rules (the hub's compiled copy when it is at the current
/// version, else compiled now).
async fn run_test<B: Backend>(
    state: &AppState<B>,
    key: &str,
    env: &str,
    context: &str,
) -> Result<Result<Evaluation, String>, UiError> {
    let json: Value = match serde_json::from_str(context) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return Ok(Err("The context must be a JSON object, e.g. {\"targetingKey\": \"user-1\"}.".into())),
        Err(e) => return Ok(Err(format!("The context is not valid JSON: {e}."))),
    };
    let ctx = match Context::from_json(&json) {
        Ok(c) => c,
        Err(e) => return Ok(Err(format!("The context is not usable: {e}."))),
    };
    let mut tx = state.store.read().await?;
    let environment =
        tx.environment(env).await?.ok_or_else(|| DomainError::NotFound(format!("environment `{env}`")))?;
    if let Some(cached) = state.hub.rules(environment.id).filter(|r| r.version == environment.version) {
        drop(tx);
        return Ok(evaluate(&cached.ruleset, key, &ctx));
    }
    let snap = snapshot(&mut tx, &environment, &Edits::default(), Reach::All).await?;
    drop(tx);
    let rules = Ruleset::compile(&snap).map_err(|e| corrupt(format!("stored rules do not compile: {e}")))?;
    Ok(evaluate(&rules, key, &ctx))
}

pub(super) async fn test<B: Backend>(
    State(state): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path((key, env)): Path<(String, String)>,
    Posted(form): Posted<TestContextForm>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, &form.csrf, Role::Viewer)?;
    let outcome = run_test(&state, &key, &env, &form.context).await?;
    let result = TestContextResult { environment: env.clone(), outcome };
    if is_htmx(&headers) {
        return Ok(page(&user, &result));
    }
    let overrides = Overrides {
        test: TestContextPanel { context_json: form.context, result: Some(result) },
        ..Overrides::default()
    };
    let view = flag_page(&state, &user, &headers, &key, &env, overrides).await?;
    Ok(page(&user, &view))
}

pub(super) async fn copy<B: Backend>(
    State(state): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(key): Path<String>,
    Posted(form): Posted<CopyConfigForm>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, &form.csrf, Role::Editor)?;
    let from_page = format!("/flags/{key}?env={}", super::answer::encode(&form.from));
    if is_production(&form.to) && form.confirm != "yes" {
        let view = ConfirmPage {
            layout: frame(&user, &headers, "Confirm", Section::Flags),
            question: format!("Copy the rules of {key} from {} over those in {}?", form.from, form.to),
            detail: format!("The rules in {} are replaced and in force at once.", form.to),
            action: format!("/flags/{key}/copy"),
            fields: vec![("from".to_owned(), form.from.clone()), ("to".to_owned(), form.to.clone())],
            confirm_label: format!("Copy into {}", form.to),
            cancel_href: from_page,
        };
        return Ok(page(&user, &view));
    }
    let (actor, flag, from, to) = (user.actor(), key.clone(), form.from.clone(), form.to.clone());
    let outcome = write_value(&state, move |tx| {
        Box::pin(async move { service::copy_config(tx, &actor, &flag, &from, &to, None).await })
    })
    .await;
    match outcome {
        Ok(view) => {
            let to_page = format!("/flags/{key}?env={}", super::answer::encode(&form.to));
            let message = format!("Copied {key} from {} to {} (revision {}).", form.from, form.to, view.revision);
            Ok(see_other_with(&to_page, FlashKind::Success, &message))
        }
        Err(e @ (DomainError::Invalid { .. } | DomainError::Conflict(_) | DomainError::ConflictAt { .. })) => {
            let message = format!("Could not copy to {}: {e}", form.to);
            Ok(done(&headers, &from_page, FlashKind::Error, &message))
        }
        Err(e) => Err(e.into()),
    }
}

/// Answers a rules editor post: the fragment to htmx, else the whole page.
pub(super) async fn editor_answer<B: Backend>(
    state: &AppState<B>,
    user: &UiUser,
    headers: &HeaderMap,
    (key, env): (&str, &str),
    status: StatusCode,
    editor: (ConfigDraft, Vec<FieldError>, Option<String>),
) -> Result<Response, UiError> {
    let overrides = Overrides { editor: Some(editor), ..Overrides::default() };
    let view = flag_page(state, user, headers, key, env, overrides).await?;
    let response = if is_htmx(headers) { page(user, &view.editor) } else { page(user, &view) };
    Ok((status, response).into_response())
}
