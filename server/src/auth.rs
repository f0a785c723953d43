//! Roles and secrets, below both the HTTP layer and the domain: what a
//! credential may do ([`Role`]), how secrets are made ([`new_secret`]: 256
//! random bits, hex, with a prefix that says what they are) and how they are
//! stored ([`hash_secret`]: SHA-256, hex; the secret itself never is).

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of admin tokens.
pub const ADMIN_TOKEN_PREFIX: &str = "fy_admin_";
/// Prefix of SDK keys.
pub const SDK_KEY_PREFIX: &str = "fy_sdk_";

/// What a token may do; each role includes the ones before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read everything.
    Viewer,
    /// Also change flags, configurations and segments.
    Editor,
    /// Also manage environments, tokens and SDK keys.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A new random secret with `prefix`: 32 random bytes, hex.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// The stored form of a secret: SHA-256, hex. Computed only when the
/// credential cache misses (`state/credentials.rs`).
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = new_secret(ADMIN_TOKEN_PREFIX);
        let b = new_secret(ADMIN_TOKEN_PREFIX);
        assert_ne!(a, b);
        assert_eq!(a.len(), ADMIN_TOKEN_PREFIX.len() + 64);
        assert_eq!(hash_secret(&a).len(), 64);
        assert_ne!(hash_secret(&a), hash_secret(&b));
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Admin > Role::Editor && Role::Editor > Role::Viewer);
        assert_eq!(Role::parse("editor"), Some(Role::Editor));
    }
}
