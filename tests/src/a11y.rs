//! Accessibility checks with axe-core (the npm package, pinned in
//! `tests/a11y/package.json`), run inside the page through WebDriver.
//!
//! `.ci/run` installs it (`npm ci --prefix tests/a11y`); on a machine where
//! it is missing the first check installs it the same way if `npm` is there.
//! Without it the check is skipped with a loud line on stderr, unless
//! `FLAGYARD_REQUIRE_BROWSER=1`, which makes it a failure.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use fantoccini::Client;
use serde_json::Value;

fn package_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("a11y")
}

/// The source of `axe.min.js`, installed first if need be, or `None` (said
/// on stderr) when it cannot be had and is not required.
pub fn axe_source() -> Option<&'static str> {
    static SOURCE: OnceLock<Option<String>> = OnceLock::new();
    SOURCE
        .get_or_init(|| {
            let file = package_dir().join("node_modules/axe-core/axe.min.js");
            if !file.exists() {
                let installed = Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund", "--prefix"])
                    .arg(package_dir())
                    .status()
                    .is_ok_and(|s| s.success());
                if !installed {
                    eprintln!("npm ci --prefix tests/a11y failed or npm is missing");
                }
            }
            match std::fs::read_to_string(&file) {
                Ok(source) => Some(source),
                Err(e) => {
                    let required = std::env::var("FLAGYARD_REQUIRE_BROWSER").is_ok_and(|v| v == "1" || v == "true");
                    assert!(!required, "FLAGYARD_REQUIRE_BROWSER=1 but axe-core is missing ({}: {e})", file.display());
                    eprintln!(
                        "SKIPPED accessibility checks: no axe-core ({}: {e}; npm ci --prefix tests/a11y)",
                        file.display()
                    );
                    None
                }
            }
        })
        .as_deref()
}

/// Runs axe-core on the page `c` shows and returns its serious and critical
/// violations, one line each with the elements concerned.
pub async fn serious_violations(c: &Client, axe: &str) -> Vec<String> {
    c.execute(axe, vec![]).await.expect("load axe-core into the page");
    let script = r#"
        const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ['violations']})
            .then(r => done(r.violations))
            .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));
    "#;
    let found = c.execute_async(script, vec![]).await.expect("run axe-core");
    let Value::Array(violations) = found else { panic!("axe-core answered {found}") };
    violations
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .map(|v| {
            let nodes: Vec<String> = v["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|n| format!("{} ({})", n["target"], n["failureSummary"].as_str().unwrap_or("").replace('\n', " ")))
                .collect();
            format!("{} [{}]: {} — {}", v["id"], v["impact"], v["help"], nodes.join("; "))
        })
        .collect()
}
