//! The optional cache file: the last snapshot, rewritten atomically on every
//! change (write a temporary file in the same directory, flush it to disk,
//! rename it over the old one), read at start.

use std::io::Write;
use std::path::{Path, PathBuf};

use flagyard_eval::Snapshot;

/// The snapshot in `path`, or `None` (logged) when the file is missing or
/// unusable: a cache never stops a client from starting.
pub(crate) fn read(path: &Path) -> Option<Snapshot> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "flagyard: cannot read the cache file");
            return None;
        }
    };
    match flagyard_eval::parse_snapshot(&text) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "flagyard: ignoring an invalid cache file");
            None
        }
    }
}

/// Writes `snapshot` to `path` atomically.
pub(crate) fn write(path: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    let json = serde_json::to_vec(snapshot).map_err(std::io::Error::other)?;
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "flagyard-cache".into());
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing_or_bad_files() {
        let dir = std::env::temp_dir().join(format!("flagyard-cache-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rules.json");
        assert_eq!(read(&path), None);
        let snap = Snapshot { environment: "e".into(), version: 9, ..Snapshot::default() };
        write(&path, &snap).unwrap();
        assert_eq!(read(&path), Some(snap));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left behind");
        std::fs::write(&path, "{not json").unwrap();
        assert_eq!(read(&path), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
