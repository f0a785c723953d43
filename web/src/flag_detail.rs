//! The flag page: definition, variants, and per environment the kill switch,
//! the rules editor, copying to another environment, and "test a context".

use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::flags::EnvState;
use crate::layout::Layout;
use crate::rules_editor::RulesEditor;
use crate::test_context::TestContextPanel;

/// A variant of the flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantView {
    /// Variant key.
    pub key: String,
    /// Its value as JSON text.
    pub value_json: String,
}

/// An environment tab of the flag page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvTab {
    /// The state (key, enabled, production, revision).
    pub state: EnvState,
    /// Whether this tab is shown.
    pub current: bool,
}

/// An experiment that uses the flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagExperimentLink {
    /// Experiment key.
    pub key: String,
    /// Environment.
    pub environment: String,
    /// Its state: `draft`, `running`, `stopped`.
    pub state: String,
}

/// The flag page (`GET /flags/{key}?env={env}`).
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "flag.html")]
pub struct FlagPage {
    /// The frame.
    pub layout: Layout,
    /// Flag key.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Value type.
    pub value_type: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Whether archived.
    pub archived: bool,
    /// The definition's revision (the settings form's base).
    pub revision: i64,
    /// Variants.
    pub variants: Vec<VariantView>,
    /// One tab per environment; exactly one is `current`.
    pub environments: Vec<EnvTab>,
    /// The rules editor of the current environment.
    pub editor: RulesEditor,
    /// The "test a context" panel of the current environment.
    pub test: TestContextPanel,
    /// Experiments on this flag.
    pub experiments: Vec<FlagExperimentLink>,
    /// The ramp panel of the current environment.
    pub ramp: crate::ramp::RampPanel,
}

impl FlagPage {
    /// The variants as the settings form edits them: `key = value` lines.
    pub fn variants_text(&self) -> String {
        self.variants.iter().map(|v| format!("{} = {}", v.key, v.value_json)).collect::<Vec<_>>().join("\n")
    }

    /// The tags as the settings form edits them.
    pub fn tags_text(&self) -> String {
        self.tags.join(", ")
    }

    /// The current environment tab, if any.
    pub fn current(&self) -> Option<&EnvTab> {
        self.environments.iter().find(|t| t.current)
    }

    /// Tab link for `env`.
    pub fn tab_href(&self, env: &str) -> String {
        format!("/flags/{}?env={}", self.key, crate::flags::urlencode(env))
    }

    /// Other environments (copy targets).
    pub fn copy_targets(&self) -> Vec<String> {
        self.environments.iter().filter(|t| !t.current).map(|t| t.state.environment.clone()).collect()
    }

    /// Copy form action.
    pub fn copy_action(&self) -> String {
        format!("/flags/{}/copy", self.key)
    }

    /// Test form action for the current environment.
    pub fn test_action(&self) -> String {
        format!("/flags/{}/environments/{}/test", self.key, self.editor.environment)
    }
}

/// Fields of `POST /flags/{key}/copy`.
#[derive(Debug, Clone, Deserialize)]
pub struct CopyConfigForm {
    /// CSRF token (missing = empty: refused as a wrong token, 403).
    #[serde(default)]
    pub csrf: String,
    /// Source environment.
    pub from: String,
    /// Target environment.
    pub to: String,
    /// `yes` once confirmed (copying into production).
    #[serde(default)]
    pub confirm: String,
}
