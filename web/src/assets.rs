//! Static assets compiled into the binary, with a content ETag computed once.
//!
//! The server serves them under [`ASSET_PREFIX`]; pages link them with
//! `?v=<etag>` (see [`href`]), so they may be cached for a long time.

use std::sync::OnceLock;

/// Where the server mounts the assets.
pub const ASSET_PREFIX: &str = "/assets/";

/// A static file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// Its name under [`ASSET_PREFIX`], e.g. `app.css`.
    pub path: &'static str,
    /// The bytes.
    pub body: &'static [u8],
    /// `Content-Type` header value.
    pub content_type: &'static str,
    /// Strong `ETag` header value, quoted: a hash of the body.
    pub etag: &'static str,
}

const FILES: [(&str, &[u8], &str); 3] = [
    ("app.css", include_bytes!("../assets/app.css"), "text/css; charset=utf-8"),
    ("app.js", include_bytes!("../assets/app.js"), "text/javascript; charset=utf-8"),
    ("htmx.min.js", include_bytes!("../assets/htmx.min.js"), "text/javascript; charset=utf-8"),
];

struct Table {
    etags: Vec<String>,
    versions: Vec<String>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let hashes: Vec<u64> = FILES.iter().map(|(_, body, _)| fnv1a(body)).collect();
        Table {
            etags: hashes.iter().map(|h| format!("\"{h:016x}\"")).collect(),
            versions: hashes.iter().map(|h| format!("{:08x}", h >> 32)).collect(),
        }
    })
}

/// 64-bit FNV-1a: stable across builds and platforms, enough for cache keys.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The asset named `path` (without [`ASSET_PREFIX`] and without a query).
pub fn asset(path: &str) -> Option<Asset> {
    let i = FILES.iter().position(|(p, _, _)| *p == path)?;
    let (path, body, content_type) = FILES[i];
    let etag = table().etags.get(i)?.as_str();
    Some(Asset { path, body, content_type, etag })
}

/// Every asset.
pub fn assets() -> impl Iterator<Item = Asset> {
    FILES.iter().filter_map(|(p, _, _)| asset(p))
}

/// The URL a page uses for asset `path`: `/assets/{path}?v={version}`.
pub fn href(path: &str) -> String {
    match FILES.iter().position(|(p, _, _)| *p == path).and_then(|i| table().versions.get(i)) {
        Some(v) => format!("{ASSET_PREFIX}{path}?v={v}"),
        None => format!("{ASSET_PREFIX}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_stay_within_the_budget() {
        let total: usize = assets().map(|a| a.body.len()).sum();
        assert!(total < 150 * 1024, "static assets weigh {total} bytes, budget 150 KiB");
        assert_eq!(assets().count(), FILES.len());
    }

    #[test]
    fn lookup_and_etags() {
        let css = asset("app.css").expect("css");
        assert!(css.content_type.starts_with("text/css"));
        assert!(css.etag.starts_with('"') && css.etag.ends_with('"') && css.etag.len() == 18);
        assert_ne!(css.etag, asset("app.js").expect("js").etag);
        assert!(asset("../Cargo.toml").is_none());
        assert!(asset("nope.js").is_none());
        assert!(href("htmx.min.js").starts_with("/assets/htmx.min.js?v="));
        let htmx = asset("htmx.min.js").expect("htmx");
        assert!(std::str::from_utf8(htmx.body).expect("utf-8").contains("htmx"));
    }

    #[test]
    fn fnv_is_the_reference_function() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
