//! The "test a context" panel: evaluate the flag for a JSON context.

use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

/// What the engine answered for the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The value served, as JSON text.
    pub value_json: String,
    /// The variant key (empty on error).
    pub variant: String,
    /// The reason, e.g. "rule 2 matched (staff)", "split", "default", "off".
    pub reason: String,
    /// The bucket (0–9999) when a split was consulted.
    pub bucket: Option<u32>,
}

/// The result fragment (`test_result.html`): the answer to
/// `POST /flags/{key}/environments/{env}/test` from htmx.
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "test_result.html")]
pub struct TestContextResult {
    /// The environment evaluated in.
    pub environment: String,
    /// The evaluation, or the problem (invalid JSON, no targeting key...).
    pub outcome: Result<Evaluation, String>,
}

/// The panel: the form (context kept as typed) and the last result.
#[derive(Debug, Clone, Default)]
pub struct TestContextPanel {
    /// The JSON context as typed.
    pub context_json: String,
    /// The last result, if any.
    pub result: Option<TestContextResult>,
}

/// Fields of `POST /flags/{key}/environments/{env}/test`.
#[derive(Debug, Clone, Deserialize)]
pub struct TestContextForm {
    /// CSRF token (missing = empty: refused as a wrong token, 403).
    #[serde(default)]
    pub csrf: String,
    /// The context as JSON, e.g. `{"targetingKey": "u1", "plan": "pro"}`.
    pub context: String,
}
