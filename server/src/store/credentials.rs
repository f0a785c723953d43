//! Admin API tokens and SDK keys, stored by the SHA-256 of their secret:
//! [`CredentialQueries`] and their records.

use std::future::Future;

use super::Result;

row! {
    /// An admin API token (the secret itself is never stored).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TokenRecord {
        pub id: i64,
        pub name: String,
        /// `viewer`, `editor` or `admin`.
        pub role: String,
        /// SHA-256 (hex) of the secret.
        pub hash: String,
        pub created_at: i64,
        pub revoked_at: Option<i64>,
        /// Epoch ms, coarse (see `state/usage.rs`); `None` until first used.
        pub last_used_at: Option<i64>,
    }
}

row! {
    /// An SDK key, scoped to one environment.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SdkKeyRecord {
        pub id: i64,
        pub environment_id: i64,
        pub environment_key: String,
        pub name: String,
        /// SHA-256 (hex) of the secret.
        pub hash: String,
        pub created_at: i64,
        pub revoked_at: Option<i64>,
        /// Epoch ms, coarse (see `state/usage.rs`); `None` until first used.
        pub last_used_at: Option<i64>,
    }
}

/// Admin token and SDK key queries (by SHA-256 hex of the secret).
pub trait CredentialQueries: Send {
    fn insert_token(
        &mut self,
        name: &str,
        role: &str,
        hash: &str,
        at: i64,
    ) -> impl Future<Output = Result<TokenRecord>> + Send;
    /// The token with this hash, revoked or not.
    fn token_by_hash(&mut self, hash: &str) -> impl Future<Output = Result<Option<TokenRecord>>> + Send;
    fn tokens(&mut self) -> impl Future<Output = Result<Vec<TokenRecord>>> + Send;
    /// Marks the token revoked; false if there is no such unrevoked token.
    fn revoke_token(&mut self, id: i64, at: i64) -> impl Future<Output = Result<bool>> + Send;
    fn count_tokens(&mut self) -> impl Future<Output = Result<i64>> + Send;
    fn insert_sdk_key(
        &mut self,
        environment_id: i64,
        name: &str,
        hash: &str,
        at: i64,
    ) -> impl Future<Output = Result<SdkKeyRecord>> + Send;
    /// The key with this hash, revoked or not, with its environment's key.
    fn sdk_key_by_hash(&mut self, hash: &str) -> impl Future<Output = Result<Option<SdkKeyRecord>>> + Send;
    /// Keys of one environment, or of all.
    fn sdk_keys(&mut self, environment_id: Option<i64>) -> impl Future<Output = Result<Vec<SdkKeyRecord>>> + Send;
    fn revoke_sdk_key(&mut self, id: i64, at: i64) -> impl Future<Output = Result<bool>> + Send;
    /// Records that these tokens and keys were used at `at`, for each one
    /// whose stored time is `every_ms` old or more (or unset).
    fn touch_credentials(
        &mut self,
        tokens: &[i64],
        keys: &[i64],
        at: i64,
        every_ms: i64,
    ) -> impl Future<Output = Result<()>> + Send;
}
