//! What experiments require of flags: the rule they are bound to must serve
//! a split, and while one runs the split's weights stay as they were at start.

use flagyard_eval::{FlagConfig, Serve, Split, WeightedVariant};
use serde::{Deserialize, Serialize};

use super::error::Error;
use crate::store::{Environment, ExperimentRecord, FlagRecord, Queries, RampFilter, StoreError};

/// The split's allocation when the experiment started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SplitSnapshot {
    pub variants: Vec<WeightedVariant>,
    pub coverage: u32,
}

/// Stored experiment data that cannot be read back.
pub(super) fn corrupt(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Store(StoreError::Corrupt(format!("{what}: {e}")))
}

/// The split allocation recorded when `x` started, if it has started.
pub(super) fn snapshot_of(x: &ExperimentRecord) -> Result<Option<SplitSnapshot>, Error> {
    x.split_snapshot.as_deref().map(|t| serde_json::from_str(t).map_err(|e| corrupt("split snapshot", e))).transpose()
}

/// The split served by rule `rule_id` of `config`, if that rule exists and serves one.
fn split_of<'a>(config: &'a FlagConfig, rule_id: &str) -> Option<&'a Split> {
    config.rules.iter().find(|r| r.id.as_deref() == Some(rule_id)).and_then(|r| match &r.serve {
        Serve::Split(s) => Some(s),
        Serve::Variant(_) => None,
    })
}

/// The split the experiment's rule serves now (422 naming `ruleId` / `controlVariant` if unusable).
pub(super) async fn bound_split<T: Queries>(
    tx: &mut T,
    flag: &FlagRecord,
    env: &Environment,
    rule_id: &str,
    control: &str,
) -> Result<Split, Error> {
    let record = tx.config(flag.id, env.id).await?.ok_or_else(|| {
        Error::invalid("environment", format!("flag `{}` has no configuration in `{}`", flag.key, env.key))
    })?;
    let config: FlagConfig = serde_json::from_str(&record.config).map_err(|e| corrupt("configuration", e))?;
    if !config.rules.iter().any(|r| r.id.as_deref() == Some(rule_id)) {
        return Err(Error::invalid(
            "ruleId",
            format!("flag `{}` has no rule with id `{rule_id}` in `{}`", flag.key, env.key),
        ));
    }
    let split = split_of(&config, rule_id)
        .ok_or_else(|| Error::invalid("ruleId", format!("rule `{rule_id}` serves a fixed variant, not a split")))?;
    if !split.variants.iter().any(|v| v.variant == control) {
        return Err(Error::invalid(
            "controlVariant",
            format!("`{control}` is not one of the variants of rule `{rule_id}`'s split"),
        ));
    }
    Ok(split.clone())
}

/// Refuses a configuration of `flag` in `env` that changes the weights of (or
/// removes) a split a running experiment is allocated by. Coverage may change.
pub(crate) async fn check_running<T: Queries>(
    tx: &mut T,
    flag: &FlagRecord,
    env: &Environment,
    config: &FlagConfig,
) -> Result<(), Error> {
    // A ramp's own experiment follows the ramp's weights; an edit of the
    // rule by anyone else pauses the ramp instead of being refused.
    let active = ["running", "paused"];
    let filter = RampFilter { flag_id: Some(flag.id), environment_id: Some(env.id), states: &active };
    let ramps: Vec<Option<i64>> = tx.ramps(filter, 10).await?.into_iter().map(|r| r.experiment_id).collect();
    for x in tx.experiments_of_flag(flag.id).await? {
        if x.state != "running" || x.environment_id != env.id || ramps.contains(&Some(x.id)) {
            continue;
        }
        let Some(snapshot) = snapshot_of(&x)? else { continue };
        let position = config.rules.iter().position(|r| r.id.as_deref() == Some(x.rule_id.as_str()));
        match (split_of(config, &x.rule_id), position) {
            (Some(split), _) if split.variants == snapshot.variants => {}
            (Some(_), Some(i)) => {
                return Err(Error::ConflictAt {
                    path: format!("rules[{i}].serve.split.variants"),
                    message: format!(
                        "experiment `{}` is running on rule `{}`: its split's variant weights cannot change until it \
                         stops (coverage can)",
                        x.key, x.rule_id
                    ),
                });
            }
            (_, position) => {
                return Err(Error::ConflictAt {
                    path: position.map_or_else(|| "rules".to_owned(), |i| format!("rules[{i}].serve")),
                    message: format!(
                        "experiment `{}` is running on rule `{}`: the rule must keep serving its split until it stops",
                        x.key, x.rule_id
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Refuses deleting a flag that experiments reference.
pub(crate) async fn check_flag_unused<T: Queries>(tx: &mut T, flag: &FlagRecord) -> Result<(), Error> {
    let users: Vec<String> = tx.experiments_of_flag(flag.id).await?.into_iter().map(|x| x.key).collect();
    if users.is_empty() {
        Ok(())
    } else {
        Err(Error::Conflict(format!("flag `{}` is used by experiments: {}", flag.key, users.join(", "))))
    }
}
