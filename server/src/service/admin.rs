//! Environments, admin tokens and SDK keys; first-start bootstrap.

use serde::Deserialize;

use super::error::Error;
use super::flags::initial_config;
use super::rules;
use super::views::{EnvironmentView, SdkKeyView, TokenView};
use super::{audit, bump, check_key, environment, log_change, now_ms};
use crate::auth::{ADMIN_TOKEN_PREFIX, Role, SDK_KEY_PREFIX, hash_secret, new_secret};
use crate::config::Config;
use crate::store::{Backend, ConfigRecord, CredentialQueries, EnvironmentQueries, FlagQuery, Queries, Topic};

/// What the first start did.
#[derive(Debug, Default)]
pub struct Bootstrap {
    /// Environments created on an empty database.
    pub created_environments: Vec<String>,
    /// An admin token generated because none existed and none was configured:
    /// shown once, never stored in clear.
    pub generated_admin_token: Option<String>,
}

fn title_case(key: &str) -> String {
    let mut chars = key.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Creates the initial environments on an empty database and makes sure an
/// admin token exists (the configured one, or a generated one). Replicas
/// starting together on one empty database race here: the loser's insert
/// hits a uniqueness constraint, and it simply looks again.
pub async fn bootstrap<B: Backend>(store: &B, config: &Config) -> Result<Bootstrap, Error> {
    let mut attempt = 0;
    loop {
        match bootstrap_once(store, config).await {
            Err(Error::Store(crate::store::StoreError::Duplicate)) if attempt < 5 => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
            }
            other => return other,
        }
    }
}

async fn bootstrap_once<B: Backend>(store: &B, config: &Config) -> Result<Bootstrap, Error> {
    let mut tx = store.write().await?;
    let mut done = Bootstrap::default();
    let at = now_ms();
    if tx.environments().await?.is_empty() {
        for key in &config.initial_environments {
            tx.insert_environment(key, &title_case(key), at).await?;
            done.created_environments.push(key.clone());
        }
    }
    if let Some(token) = &config.admin_token {
        let hash = hash_secret(token);
        if tx.token_by_hash(&hash).await?.is_none() {
            tx.insert_token("bootstrap", Role::Admin.as_str(), &hash, at).await?;
            audit(&mut tx, at, "system", "token.create", "token", "bootstrap", None, None, None).await?;
        }
    } else if tx.count_tokens().await? == 0 {
        let secret = new_secret(ADMIN_TOKEN_PREFIX);
        tx.insert_token("bootstrap", Role::Admin.as_str(), &hash_secret(&secret), at).await?;
        audit(&mut tx, at, "system", "token.create", "token", "bootstrap", None, None, None).await?;
        done.generated_admin_token = Some(secret);
    }
    B::commit(tx).await?;
    Ok(done)
}

/// All environments.
pub async fn list_environments<T: Queries>(tx: &mut T) -> Result<Vec<EnvironmentView>, Error> {
    Ok(tx.environments().await?.into_iter().map(EnvironmentView::from).collect())
}

/// A new environment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentInput {
    pub key: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// Creates an environment where every existing flag starts off.
pub async fn create_environment<T: Queries>(
    tx: &mut T,
    actor: &str,
    input: EnvironmentInput,
) -> Result<EnvironmentView, Error> {
    check_key("key", &input.key)?;
    let at = now_ms();
    let name = input.name.unwrap_or_else(|| title_case(&input.key));
    let env = tx.insert_environment(&input.key, &name, at).await?;
    let all = FlagQuery { limit: i64::MAX, ..FlagQuery::default() };
    for flag in tx.flags(&all).await?.0 {
        let (_, variants) = rules::definition(&flag)?;
        let config = initial_config(&variants, None, None);
        let record = ConfigRecord {
            flag_id: flag.id,
            environment_id: env.id,
            config: serde_json::to_string(&config).unwrap_or_default(),
            revision: 1,
            updated_at: at,
            updated_by: actor.to_owned(),
        };
        tx.put_config(&record).await?;
    }
    let env = bump(tx, env).await?;
    log_change(tx, &env, "environment", &env.key, "put", at).await?;
    audit(tx, at, actor, "environment.create", "environment", &env.key, Some(&env.key), None, None).await?;
    Ok(env.into())
}

/// A new admin token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    pub name: String,
    pub role: Role,
}

/// Creates an admin token; the secret is in the answer, and only there.
pub async fn create_token<T: Queries>(tx: &mut T, actor: &str, input: TokenInput) -> Result<TokenView, Error> {
    if input.name.trim().is_empty() || input.name.len() > 100 {
        return Err(Error::invalid("name", "1 to 100 characters"));
    }
    let secret = new_secret(ADMIN_TOKEN_PREFIX);
    let at = now_ms();
    let record = tx.insert_token(&input.name, input.role.as_str(), &hash_secret(&secret), at).await?;
    audit(tx, at, actor, "token.create", "token", &input.name, None, None, None).await?;
    let mut view = TokenView::from(record);
    view.secret = Some(secret);
    Ok(view)
}

/// All admin tokens (never their secrets).
pub async fn list_tokens<T: Queries>(tx: &mut T) -> Result<Vec<TokenView>, Error> {
    Ok(tx.tokens().await?.into_iter().map(TokenView::from).collect())
}

/// Revokes a token; the last active admin token cannot be revoked.
pub async fn revoke_token<T: Queries>(tx: &mut T, actor: &str, id: i64) -> Result<(), Error> {
    let tokens = tx.tokens().await?;
    let token = tokens
        .iter()
        .find(|t| t.id == id && t.revoked_at.is_none())
        .ok_or_else(|| Error::NotFound(format!("active token {id}")))?;
    let admins = tokens.iter().filter(|t| t.role == Role::Admin.as_str() && t.revoked_at.is_none()).count();
    if token.role == Role::Admin.as_str() && admins == 1 {
        return Err(Error::Conflict("this is the last active admin token; create another admin token first".into()));
    }
    let at = now_ms();
    tx.revoke_token(id, at).await?;
    tx.notify(Topic::Keys).await?;
    audit(tx, at, actor, "token.revoke", "token", &token.name, None, None, None).await?;
    Ok(())
}

/// A new SDK key.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SdkKeyInput {
    pub name: String,
}

/// Creates an SDK key for `env`; the secret is in the answer, and only there.
pub async fn create_sdk_key<T: Queries>(
    tx: &mut T,
    actor: &str,
    env: &str,
    input: SdkKeyInput,
) -> Result<SdkKeyView, Error> {
    if input.name.trim().is_empty() || input.name.len() > 100 {
        return Err(Error::invalid("name", "1 to 100 characters"));
    }
    let env = environment(tx, env).await?;
    let secret = new_secret(SDK_KEY_PREFIX);
    let at = now_ms();
    let record = tx.insert_sdk_key(env.id, &input.name, &hash_secret(&secret), at).await?;
    audit(tx, at, actor, "sdk_key.create", "sdk_key", &input.name, Some(&env.key), None, None).await?;
    let mut view = SdkKeyView::from(record);
    view.secret = Some(secret);
    Ok(view)
}

/// SDK keys of one environment, or of all.
pub async fn list_sdk_keys<T: Queries>(tx: &mut T, env: Option<&str>) -> Result<Vec<SdkKeyView>, Error> {
    let id = match env {
        Some(key) => Some(environment(tx, key).await?.id),
        None => None,
    };
    Ok(tx.sdk_keys(id).await?.into_iter().map(SdkKeyView::from).collect())
}

/// Revokes an SDK key: its streams end and its requests get 401.
pub async fn revoke_sdk_key<T: Queries>(tx: &mut T, actor: &str, id: i64) -> Result<(), Error> {
    let key = tx.sdk_keys(None).await?.into_iter().find(|k| k.id == id && k.revoked_at.is_none());
    let key = key.ok_or_else(|| Error::NotFound(format!("active SDK key {id}")))?;
    let at = now_ms();
    tx.revoke_sdk_key(id, at).await?;
    tx.notify(Topic::Keys).await?;
    audit(tx, at, actor, "sdk_key.revoke", "sdk_key", &key.name, Some(&key.environment_key), None, None).await?;
    Ok(())
}
