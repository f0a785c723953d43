//! What the API returns: JSON views of stored records.

use std::collections::BTreeMap;

use flagyard_eval::{FlagConfig, Segment, Variant};
use serde::Serialize;

use super::error::Error;
use super::rules::segment_model;
use crate::store::{
    AuditQuery, AuditRecord, ConfigRecord, Environment, FlagRecord, Queries, SdkKeyRecord, SegmentRecord, StoreError,
    TokenRecord,
};

/// RFC 3339 UTC text of epoch milliseconds, e.g. `2026-11-26T04:08:33.120Z`.
pub fn rfc3339(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, min, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|e| Error::Store(StoreError::Corrupt(format!("{what}: {e}"))))
}

/// A page of flags.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FlagPage {
    pub items: Vec<FlagView>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// An environment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentView {
    pub key: String,
    pub name: String,
    pub version: i64,
    pub created_at: String,
}

impl From<Environment> for EnvironmentView {
    fn from(e: Environment) -> Self {
        EnvironmentView { key: e.key, name: e.name, version: e.version, created_at: rfc3339(e.created_at) }
    }
}

/// A flag's configuration in one environment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigView {
    pub environment: String,
    #[serde(flatten)]
    pub config: FlagConfig,
    /// Send it back (`If-Match` or `baseRevision`) to update safely.
    pub revision: i64,
    pub updated_at: String,
    pub updated_by: String,
}

impl ConfigView {
    pub fn new(environment: &str, record: &ConfigRecord) -> Result<Self, Error> {
        Ok(ConfigView {
            environment: environment.to_owned(),
            config: parse("configuration", &record.config)?,
            revision: record.revision,
            updated_at: rfc3339(record.updated_at),
            updated_by: record.updated_by.clone(),
        })
    }
}

/// A flag.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlagView {
    pub key: String,
    pub name: String,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub variants: Vec<Variant>,
    pub tags: Vec<String>,
    pub archived: bool,
    pub revision: i64,
    pub created_at: String,
    pub updated_at: String,
    /// Per environment (on the single-flag views).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environments: Option<BTreeMap<String, ConfigView>>,
}

impl FlagView {
    pub fn new(f: &FlagRecord) -> Result<Self, Error> {
        Ok(FlagView {
            key: f.key.clone(),
            name: f.name.clone(),
            description: f.description.clone(),
            kind: f.kind.clone(),
            variants: parse("variants", &f.variants)?,
            tags: parse("tags", &f.tags)?,
            archived: f.archived,
            revision: f.revision,
            created_at: rfc3339(f.created_at),
            updated_at: rfc3339(f.updated_at),
            environments: None,
        })
    }
}

/// A segment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SegmentView {
    pub key: String,
    pub description: String,
    #[serde(flatten)]
    pub definition: Segment,
    pub revision: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl SegmentView {
    pub fn new(s: &SegmentRecord) -> Result<Self, Error> {
        Ok(SegmentView {
            key: s.key.clone(),
            description: s.description.clone(),
            definition: segment_model(s)?,
            revision: s.revision,
            created_at: rfc3339(s.created_at),
            updated_at: rfc3339(s.updated_at),
        })
    }
}

/// An audit log entry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditView {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub key: String,
    pub environment: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl AuditView {
    fn new(a: AuditRecord) -> Result<Self, Error> {
        let doc = |t: Option<String>| t.map(|t| parse::<serde_json::Value>("audit entry", &t)).transpose();
        Ok(AuditView {
            id: a.id,
            at: rfc3339(a.at),
            actor: a.actor,
            action: a.action,
            entity: a.entity,
            key: a.key,
            environment: a.environment,
            before: doc(a.before)?,
            after: doc(a.after)?,
        })
    }
}

/// The audit log, newest first.
pub async fn audit_log<T: Queries>(tx: &mut T, query: &AuditQuery) -> Result<Vec<AuditView>, Error> {
    tx.audit(query).await?.into_iter().map(AuditView::new).collect()
}

/// An admin token (the secret only right after creation).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    /// When it was last used, to about a minute; absent until first used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<TokenRecord> for TokenView {
    fn from(t: TokenRecord) -> Self {
        TokenView {
            id: t.id,
            name: t.name,
            role: t.role,
            created_at: rfc3339(t.created_at),
            revoked_at: t.revoked_at.map(rfc3339),
            last_used_at: t.last_used_at.map(rfc3339),
            secret: None,
        }
    }
}

/// An SDK key (the secret only right after creation).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SdkKeyView {
    pub id: i64,
    pub environment: String,
    pub name: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    /// When it was last used, to about a minute; absent until first used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<SdkKeyRecord> for SdkKeyView {
    fn from(k: SdkKeyRecord) -> Self {
        SdkKeyView {
            id: k.id,
            environment: k.environment_key,
            name: k.name,
            created_at: rfc3339(k.created_at),
            revoked_at: k.revoked_at.map(rfc3339),
            last_used_at: k.last_used_at.map(rfc3339),
            secret: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_738_324_800_000), "2025-01-31T12:00:00.000Z");
        assert_eq!(rfc3339(951_868_799_999), "2000-02-29T23:59:59.999Z");
        assert_eq!(rfc3339(-1000), "1969-12-31T23:59:59.000Z");
    }
}
