//! Flag definitions, shared by all environments: [`FlagQueries`], the flag
//! record, a new flag and the list filters.

use std::future::Future;

use super::Result;

row! {
    /// A flag's definition (shared by all environments).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct FlagRecord {
        pub id: i64,
        pub key: String,
        pub name: String,
        pub description: String,
        /// `boolean`, `string`, `number` or `json`.
        pub kind: String,
        /// JSON array of `{key, value}`.
        pub variants: String,
        /// JSON array of strings.
        pub tags: String,
        pub archived: bool,
        /// +1 on every update of the definition.
        pub revision: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

/// What a new flag row holds (ids and revisions are assigned by the store).
#[derive(Debug, Clone)]
pub struct NewFlag<'a> {
    pub key: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub kind: &'a str,
    pub variants: &'a str,
    pub tags: &'a str,
    pub at: i64,
}

/// Flag list filters. `search` matches key, name or description
/// (case-insensitive substring); `tag` an exact tag.
#[derive(Debug, Clone, Default)]
pub struct FlagQuery {
    pub search: Option<String>,
    pub tag: Option<String>,
    pub archived: Option<bool>,
    pub limit: i64,
    pub offset: i64,
}

/// Flag definition queries.
pub trait FlagQueries: Send {
    /// A page of flags and the total count matching the filters.
    fn flags(&mut self, query: &FlagQuery) -> impl Future<Output = Result<(Vec<FlagRecord>, i64)>> + Send;
    fn flag(&mut self, key: &str) -> impl Future<Output = Result<Option<FlagRecord>>> + Send;
    fn flags_by_keys(&mut self, keys: &[String]) -> impl Future<Output = Result<Vec<FlagRecord>>> + Send;
    fn insert_flag(&mut self, flag: &NewFlag<'_>) -> impl Future<Output = Result<FlagRecord>> + Send;
    /// Writes name, description, variants, tags, archived, revision and updated_at by id.
    fn update_flag(&mut self, flag: &FlagRecord) -> impl Future<Output = Result<()>> + Send;
    /// Deletes the flag, its configurations and their history.
    fn delete_flag(&mut self, id: i64) -> impl Future<Output = Result<()>> + Send;
}
