//! Segments: reusable condition sets, shared by all environments.

use flagyard_eval::{Condition, Segment};
use serde::Deserialize;

use super::error::Error;
use super::rules::{self, Edits, Reach};
use super::views::SegmentView;
use super::{audit, bump, check_key, check_revision, log_change, now_ms};
use crate::store::{Environment, Queries, SegmentRecord};

/// A segment to create (`key` required) or replace.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SegmentInput {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub included: Vec<String>,
    #[serde(default)]
    pub excluded: Vec<String>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// For updates: the revision this change is based on (or `If-Match`).
    #[serde(default)]
    pub base_revision: Option<i64>,
}

impl SegmentInput {
    fn definition(&self) -> Segment {
        Segment {
            included: self.included.clone(),
            excluded: self.excluded.clone(),
            conditions: self.conditions.clone(),
        }
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Locks every environment and validates each with `segment` replaced or removed.
async fn revalidate<T: Queries>(tx: &mut T, key: &str, segment: Option<&Segment>) -> Result<Vec<Environment>, Error> {
    let mut envs = Vec::new();
    for env in tx.environments().await? {
        let env = bump(tx, env).await?;
        let edits = Edits { segments: [(key.to_owned(), segment.cloned())].into(), ..Edits::default() };
        let snap = rules::snapshot(tx, &env, &edits, Reach::All).await?;
        match (rules::validate(&snap, &format!("segments.{key}.")), segment) {
            (Ok(_), _) => {}
            (Err(Error::Invalid { errors, .. }), None) => {
                let users: Vec<String> = errors.into_iter().map(|e| e.path).collect();
                return Err(Error::Conflict(format!(
                    "segment `{key}` is still used in environment `{}`: {}",
                    env.key,
                    users.join(", ")
                )));
            }
            (Err(e), _) => return Err(e),
        }
        envs.push(env);
    }
    if envs.is_empty() {
        // No environment to validate against: compile the segment alone.
        if let Some(segment) = segment {
            let snap = flagyard_eval::Snapshot {
                segments: [(key.to_owned(), segment.clone())].into(),
                ..flagyard_eval::Snapshot::default()
            };
            rules::validate(&snap, &format!("segments.{key}."))?;
        }
    }
    Ok(envs)
}

/// All segments.
pub async fn list_segments<T: Queries>(tx: &mut T) -> Result<Vec<SegmentView>, Error> {
    tx.segments().await?.iter().map(SegmentView::new).collect()
}

/// One segment.
pub async fn get_segment<T: Queries>(tx: &mut T, key: &str) -> Result<SegmentView, Error> {
    let s = tx.segment(key).await?.ok_or_else(|| Error::NotFound(format!("segment `{key}`")))?;
    SegmentView::new(&s)
}

/// Creates a segment.
pub async fn create_segment<T: Queries>(tx: &mut T, actor: &str, input: SegmentInput) -> Result<SegmentView, Error> {
    let key = input.key.clone().ok_or_else(|| Error::invalid("key", "required"))?;
    check_key("key", &key)?;
    let definition = input.definition();
    let envs = revalidate(tx, &key, Some(&definition)).await?;
    let at = now_ms();
    let record = tx.insert_segment(&key, &input.description, &to_json(&definition), at).await?;
    for env in &envs {
        log_change(tx, env, "segment", &key, "put", at).await?;
    }
    let view = SegmentView::new(&record)?;
    audit(tx, at, actor, "segment.create", "segment", &key, None, None, Some(&to_json(&view))).await?;
    Ok(view)
}

/// Replaces a segment's description and definition.
pub async fn update_segment<T: Queries>(
    tx: &mut T,
    actor: &str,
    key: &str,
    input: SegmentInput,
) -> Result<SegmentView, Error> {
    if input.key.as_deref().is_some_and(|k| k != key) {
        return Err(Error::invalid("key", "a segment's key cannot change"));
    }
    let definition = input.definition();
    let envs = revalidate(tx, key, Some(&definition)).await?;
    let current = tx.segment(key).await?.ok_or_else(|| Error::NotFound(format!("segment `{key}`")))?;
    check_revision("the segment", input.base_revision, current.revision)?;
    let before = to_json(&SegmentView::new(&current)?);
    let at = now_ms();
    let updated = SegmentRecord {
        description: input.description,
        definition: to_json(&definition),
        revision: current.revision + 1,
        updated_at: at,
        ..current
    };
    tx.update_segment(&updated).await?;
    for env in &envs {
        log_change(tx, env, "segment", key, "put", at).await?;
    }
    let view = SegmentView::new(&updated)?;
    audit(tx, at, actor, "segment.update", "segment", key, None, Some(&before), Some(&to_json(&view))).await?;
    Ok(view)
}

/// Deletes a segment; refused while a flag or segment uses it.
pub async fn delete_segment<T: Queries>(tx: &mut T, actor: &str, key: &str) -> Result<(), Error> {
    let current = tx.segment(key).await?.ok_or_else(|| Error::NotFound(format!("segment `{key}`")))?;
    let envs = revalidate(tx, key, None).await?;
    let at = now_ms();
    tx.delete_segment(current.id).await?;
    for env in &envs {
        log_change(tx, env, "segment", key, "delete", at).await?;
    }
    let before = to_json(&SegmentView::new(&current)?);
    audit(tx, at, actor, "segment.delete", "segment", key, None, Some(&before), None).await?;
    Ok(())
}
