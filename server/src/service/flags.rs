//! Flags: definitions shared by all environments.

use std::collections::BTreeMap;

use flagyard_eval::{Flag, FlagConfig, FlagType, Snapshot, Variant};
use serde::Deserialize;

use super::error::Error;
use super::rules::{self, Edits, Reach};
use super::views::{ConfigView, FlagPage, FlagView};
use super::{audit, bump, check_key, check_revision, log_change, now_ms};
use crate::store::{ConfigRecord, FlagQuery, FlagRecord, NewFlag, Queries};

/// Largest page of the flag list.
pub const MAX_PAGE: i64 = 1000;

/// A new flag.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlagInput {
    pub key: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(rename = "type")]
    pub kind: FlagType,
    /// Required except for boolean flags (default `on: true`, `off: false`).
    #[serde(default)]
    pub variants: Option<Vec<Variant>>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Served while off, in every environment (default: the `false` variant, else the first).
    #[serde(default)]
    pub off_variant: Option<String>,
    /// Served when no rule matches (default: the off variant).
    #[serde(default)]
    pub default_variant: Option<String>,
}

/// Changes to a flag's definition; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlagPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub variants: Option<Vec<Variant>>,
    pub archived: Option<bool>,
    /// The revision this change is based on (or `If-Match`); stale ones get 409.
    pub base_revision: Option<i64>,
}

/// Flag list parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FlagQueryParams {
    /// Case-insensitive substring of key, name or description.
    pub q: Option<String>,
    pub tag: Option<String>,
    /// `true`: only archived; `false` (default): only live; absent with `all=true`: both.
    pub archived: Option<bool>,
    #[serde(default)]
    pub all: bool,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// The variant a new configuration serves while off: `false` if there is one, else the first.
fn default_off_variant(variants: &[Variant]) -> String {
    variants
        .iter()
        .find(|v| v.value == serde_json::Value::Bool(false))
        .or_else(|| variants.first())
        .map(|v| v.key.clone())
        .unwrap_or_default()
}

/// The configuration a flag starts with in an environment: off.
pub(crate) fn initial_config(variants: &[Variant], off: Option<&str>, default: Option<&str>) -> FlagConfig {
    let off = off.map_or_else(|| default_off_variant(variants), str::to_owned);
    FlagConfig {
        enabled: false,
        default_variant: default.map_or_else(|| off.clone(), str::to_owned),
        off_variant: off,
        prerequisites: Vec::new(),
        rules: Vec::new(),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Validates a definition with `config` in a throwaway environment; paths are
/// relative to the request body.
fn validate_definition(key: &str, kind: FlagType, variants: &[Variant], config: &FlagConfig) -> Result<(), Error> {
    let flag = Flag { kind, variants: variants.to_vec(), environments: [("_".to_owned(), config.clone())].into() };
    let snap = Snapshot { environment: "_".into(), flags: [(key.to_owned(), flag)].into(), ..Snapshot::default() };
    rules::validate(&snap, &format!("flags.{key}.")).map(drop).map_err(|e| match e {
        Error::Invalid { summary, errors } => Error::Invalid {
            summary: summary.replace("environments._.", ""),
            errors: errors
                .into_iter()
                .map(|mut f| {
                    f.path = f.path.replace("environments._.", "");
                    f
                })
                .collect(),
        },
        other => other,
    })
}

/// Creates a flag, off in every environment.
pub async fn create_flag<T: Queries>(tx: &mut T, actor: &str, input: FlagInput) -> Result<FlagView, Error> {
    check_key("key", &input.key)?;
    let variants = match (input.variants, input.kind) {
        (Some(v), _) => v,
        (None, FlagType::Boolean) => vec![
            Variant { key: "on".into(), value: serde_json::Value::Bool(true) },
            Variant { key: "off".into(), value: serde_json::Value::Bool(false) },
        ],
        (None, _) => return Err(Error::invalid("variants", "required for non-boolean flags")),
    };
    let config = initial_config(&variants, input.off_variant.as_deref(), input.default_variant.as_deref());
    validate_definition(&input.key, input.kind, &variants, &config)?;
    let at = now_ms();
    let (variants_json, tags_json, config_json) = (to_json(&variants), to_json(&input.tags), to_json(&config));
    let name = input.name.unwrap_or_else(|| input.key.clone());
    let record = tx
        .insert_flag(&NewFlag {
            key: &input.key,
            name: &name,
            description: &input.description,
            kind: input.kind.as_str(),
            variants: &variants_json,
            tags: &tags_json,
            at,
        })
        .await?;
    let mut environments = BTreeMap::new();
    for env in tx.environments().await? {
        let env = bump(tx, env).await?;
        let config = ConfigRecord {
            flag_id: record.id,
            environment_id: env.id,
            config: config_json.clone(),
            revision: 1,
            updated_at: at,
            updated_by: actor.to_owned(),
        };
        tx.put_config(&config).await?;
        log_change(tx, &env, "flag", &record.key, "put", at).await?;
        environments.insert(env.key.clone(), ConfigView::new(&env.key, &config)?);
    }
    let mut view = FlagView::new(&record)?;
    audit(tx, at, actor, "flag.create", "flag", &record.key, None, None, Some(&to_json(&view))).await?;
    view.environments = Some(environments);
    Ok(view)
}

/// The flag with its configuration in every environment.
pub async fn get_flag<T: Queries>(tx: &mut T, key: &str) -> Result<FlagView, Error> {
    let flag = tx.flag(key).await?.ok_or_else(|| Error::NotFound(format!("flag `{key}`")))?;
    with_environments(tx, &flag).await
}

async fn with_environments<T: Queries>(tx: &mut T, flag: &FlagRecord) -> Result<FlagView, Error> {
    let envs: BTreeMap<i64, String> = tx.environments().await?.into_iter().map(|e| (e.id, e.key)).collect();
    let mut environments = BTreeMap::new();
    for config in tx.configs_of_flag(flag.id).await? {
        if let Some(env) = envs.get(&config.environment_id) {
            environments.insert(env.clone(), ConfigView::new(env, &config)?);
        }
    }
    let mut view = FlagView::new(flag)?;
    view.environments = Some(environments);
    Ok(view)
}

/// A page of flags (definitions only).
pub async fn list_flags<T: Queries>(tx: &mut T, params: &FlagQueryParams) -> Result<FlagPage, Error> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(Error::invalid("limit", format!("must be between 1 and {MAX_PAGE}")));
    }
    let offset = params.offset.unwrap_or(0);
    if offset < 0 {
        return Err(Error::invalid("offset", "must not be negative"));
    }
    let archived = if params.all { params.archived } else { Some(params.archived.unwrap_or(false)) };
    let query = FlagQuery { search: params.q.clone(), tag: params.tag.clone(), archived, limit, offset };
    let (rows, total) = tx.flags(&query).await?;
    let items = rows.iter().map(FlagView::new).collect::<Result<_, _>>()?;
    Ok(FlagPage { items, total, limit, offset })
}

/// Updates a flag's definition. Changing variants revalidates every
/// environment (rules and prerequisites refer to variant keys).
pub async fn update_flag<T: Queries>(tx: &mut T, actor: &str, key: &str, patch: FlagPatch) -> Result<FlagView, Error> {
    // Lock every environment first: definition writes affect them all.
    let mut envs = Vec::new();
    for env in tx.environments().await? {
        envs.push(bump(tx, env).await?);
    }
    let flag = tx.flag(key).await?.ok_or_else(|| Error::NotFound(format!("flag `{key}`")))?;
    check_revision("the flag", patch.base_revision, flag.revision)?;
    let before = to_json(&FlagView::new(&flag)?);
    let at = now_ms();
    let mut updated = flag.clone();
    if let Some(name) = patch.name {
        updated.name = name;
    }
    if let Some(description) = patch.description {
        updated.description = description;
    }
    if let Some(tags) = &patch.tags {
        updated.tags = to_json(tags);
    }
    if let Some(archived) = patch.archived {
        if archived && !flag.archived {
            let running: Vec<String> = tx
                .experiments_of_flag(flag.id)
                .await?
                .into_iter()
                .filter(|x| x.state == "running")
                .map(|x| x.key)
                .collect();
            if !running.is_empty() {
                return Err(Error::Conflict(format!(
                    "flag `{key}` cannot be archived while experiments run on it: {}",
                    running.join(", ")
                )));
            }
        }
        updated.archived = archived;
    }
    if let Some(variants) = &patch.variants {
        updated.variants = to_json(variants);
    }
    updated.revision += 1;
    updated.updated_at = at;
    for env in &envs {
        if patch.variants.is_some() {
            let config = tx.config(flag.id, env.id).await?;
            if let Some(config) = config {
                let model = rules::flag_model(&updated, &config, &env.key)?;
                let edits = Edits { flags: [(key.to_owned(), Some(model))].into(), ..Edits::default() };
                let snap = rules::snapshot(tx, env, &edits, Reach::All).await?;
                rules::validate(&snap, &format!("flags.{key}."))?;
            }
        }
        log_change(tx, env, "flag", key, "put", at).await?;
    }
    tx.update_flag(&updated).await?;
    let view = with_environments(tx, &updated).await?;
    let mut after = FlagView::new(&updated)?;
    after.environments = None;
    audit(tx, at, actor, "flag.update", "flag", key, None, Some(&before), Some(&to_json(&after))).await?;
    Ok(view)
}

/// Deletes a flag everywhere; refused while another flag depends on it.
pub async fn delete_flag<T: Queries>(tx: &mut T, actor: &str, key: &str) -> Result<(), Error> {
    let mut envs = Vec::new();
    for env in tx.environments().await? {
        envs.push(bump(tx, env).await?);
    }
    let flag = tx.flag(key).await?.ok_or_else(|| Error::NotFound(format!("flag `{key}`")))?;
    super::experiment_guards::check_flag_unused(tx, &flag).await?;
    let before = to_json(&FlagView::new(&flag)?);
    let at = now_ms();
    for env in &envs {
        let edits = Edits { flags: [(key.to_owned(), None)].into(), ..Edits::default() };
        let snap = rules::snapshot(tx, env, &edits, Reach::All).await?;
        match rules::validate(&snap, "") {
            Ok(_) => {}
            Err(Error::Invalid { errors, .. }) => {
                let users: Vec<String> = errors.iter().map(|e| e.path.clone()).collect();
                return Err(Error::Conflict(format!(
                    "flag `{key}` is still used in environment `{}`: {}",
                    env.key,
                    users.join(", ")
                )));
            }
            Err(other) => return Err(other),
        }
        log_change(tx, env, "flag", key, "delete", at).await?;
    }
    tx.delete_flag(flag.id).await?;
    audit(tx, at, actor, "flag.delete", "flag", key, None, Some(&before), None).await?;
    Ok(())
}
