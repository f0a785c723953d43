//! Error pages and inline validation errors.

use askama::Template;
use askama_web::WebTemplate;
use serde::{Deserialize, Serialize};

use crate::layout::Layout;

/// One validation problem, as in the API's `problem+json` `errors` list:
/// `path` uses the engine's notation (`rules[2].conditions[0].values`), which
/// is also the form field name (see the crate README), so the UI can show
/// each message next to its field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Where: a form field name, or a prefix of one (`rules[2]`), or empty
    /// for the form as a whole.
    pub path: String,
    /// What is wrong (shown escaped).
    pub message: String,
}

impl FieldError {
    /// A problem at `path`; code quotes in `message` (`x`, from the engine
    /// and the service) become quotation marks for people.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError { path: path.into(), message: in_percent(&plain_quotes(&message.into())) }
    }

    /// Where the problem is, for people ([`path_label`] without rule names).
    pub fn place(&self) -> String {
        path_label(&self.path, &[])
    }

    /// Where the problem is, in the rules editor's words (see [`path_label`]).
    pub fn label(&self, rule_names: &[String]) -> String {
        path_label(&self.path, rule_names)
    }

    /// The element id of the field named `path` (`f-rules-2-conditions-0-values`),
    /// so the summary can link to it.
    pub fn anchor(&self) -> String {
        field_id(&self.path)
    }
}

/// `message` with the engine's basis points (what the API takes) as the
/// percentages the UI's fields take: "weights add up to 9000, not 10000"
/// reads "the weights add up to 90%, not 100%".
pub fn in_percent(message: &str) -> String {
    let bp = |n: &str| n.trim().parse::<u32>().ok().map(crate::format::bp);
    if let Some(sum) = message.strip_prefix("weights add up to").and_then(|r| r.strip_suffix(", not 10000"))
        && let Some(p) = bp(sum)
    {
        return format!("the weights add up to {p}, not 100%");
    }
    if let Some(n) = message.strip_suffix(" is outside 0..=10000 basis points")
        && let Some(p) = bp(n)
    {
        return format!("{p} is more than 100%");
    }
    message.to_owned()
}

/// `message` with code quotes (`` `x` ``) as quotation marks (“x”).
pub fn plain_quotes(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 8);
    let mut open = true;
    for c in message.chars() {
        if c == '`' {
            out.push(if open { '“' } else { '”' });
            open = !open;
        } else {
            out.push(c);
        }
    }
    out
}

/// A field path in the rules editor's words: `rules[2].serve.split.variants[1].weight`
/// → "Rule 3, split, variant 2, weight"; a rule with a name (`rule_names`,
/// by position) is called by it, as evaluation reasons do: `Rule "canary"`.
/// Empty: "The form".
pub fn path_label(path: &str, rule_names: &[String]) -> String {
    if path.is_empty() {
        return "The form".into();
    }
    let mut parts: Vec<String> = Vec::new();
    for step in path.split('.') {
        let (name, index) = match step.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (step, None),
        };
        let word = match (name, index.is_some()) {
            ("rules", true) => "Rule",
            ("conditions", true) => "condition",
            ("prerequisites", true) => "Prerequisite",
            ("variants", true) => "variant",
            _ => name,
        };
        let word = match word {
            "serve" => continue,
            "offVariant" => "Off variant",
            "defaultVariant" => "Default variant",
            "op" => "operator",
            "bucketBy" => "bucket by",
            "id" => "name",
            "baseRevision" => "revision",
            "scheduleAt" => "Apply at",
            other => other,
        };
        parts.push(match (name, index) {
            ("rules", Some(i)) => match rule_names.get(i).map(|n| n.trim()).filter(|n| !n.is_empty()) {
                Some(n) => format!("Rule \"{n}\""),
                None => format!("Rule {}", i + 1),
            },
            (_, Some(i)) => format!("{word} {}", i + 1),
            (_, None) => word.to_owned(),
        });
    }
    let mut label = parts.join(", ");
    if let Some(first) = label.get(..1) {
        label = first.to_uppercase() + &label[1..];
    }
    label
}

/// The `id` attribute for a field named `name`: `rules[0].id` → `f-rules-0-id`.
pub fn field_id(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push_str("f-");
    let mut last_dash = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
            last_dash = false;
        } else if !last_dash {
            out.push('-');
            last_dash = true;
        }
    }
    while out.ends_with('-') && out.len() > 2 {
        out.pop();
    }
    out
}

/// The messages of `errors` whose path is exactly `path`, joined.
pub(crate) fn message_for(errors: &[FieldError], path: &str) -> Option<String> {
    let found: Vec<&str> = errors.iter().filter(|e| e.path == path).map(|e| e.message.as_str()).collect();
    if found.is_empty() { None } else { Some(found.join("; ")) }
}

/// A full error page (404, 403, 500...).
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// The frame (may have no user).
    pub layout: Layout,
    /// HTTP status shown to the user.
    pub status: u16,
    /// Short title, e.g. "Not found".
    pub title: String,
    /// Explanation.
    pub detail: String,
    /// Request id to quote to an operator, if any.
    pub request_id: Option<String>,
}

/// "Are you sure?" page, served when a form that needs a confirmation (such
/// as toggling a flag in `production`) was posted without `confirm=yes`
/// (i.e. without JavaScript). It re-posts the same fields plus `confirm=yes`.
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    /// The frame (its `csrf` is posted).
    pub layout: Layout,
    /// The question, e.g. "Turn new-checkout off in production?".
    pub question: String,
    /// What follows from it, in a sentence or two (empty: nothing more).
    pub detail: String,
    /// Where to post.
    pub action: String,
    /// Fields to re-post as hidden inputs (name, value), without `csrf`.
    pub fields: Vec<(String, String)>,
    /// Label of the confirming button.
    pub confirm_label: String,
    /// Where "Cancel" goes.
    pub cancel_href: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_as_the_editor_numbers_them() {
        let names = vec![String::new(), "canary".to_owned()];
        assert_eq!(path_label("rules[0].serve.split.variants[1].weight", &names), "Rule 1, split, variant 2, weight");
        assert_eq!(path_label("rules[1].conditions[0].op", &names), "Rule \"canary\", condition 1, operator");
        assert_eq!(path_label("rules[4]", &names), "Rule 5");
        assert_eq!(path_label("rules[1].serve.split.variants", &names), "Rule \"canary\", split, variants");
        assert_eq!(path_label("prerequisites[0].flag", &names), "Prerequisite 1, flag");
        assert_eq!(path_label("offVariant", &names), "Off variant");
        assert_eq!(path_label("", &names), "The form");
        assert_eq!(FieldError::new("x", "no variant `on` in `f`").message, "no variant “on” in “f”");
        assert_eq!(plain_quotes("a ` b"), "a “ b");
        assert_eq!(
            FieldError::new("w", "weights add up to 9000, not 10000").message,
            "the weights add up to 90%, not 100%"
        );
        assert_eq!(
            FieldError::new("w", "weights add up to 10050, not 10000").message,
            "the weights add up to 100.5%, not 100%"
        );
        assert_eq!(FieldError::new("w", "12000 is outside 0..=10000 basis points").message, "120% is more than 100%");
        assert_eq!(in_percent("weights add up to many, not 10000"), "weights add up to many, not 10000");
    }

    #[test]
    fn field_ids() {
        assert_eq!(field_id("rules[0].conditions[12].values"), "f-rules-0-conditions-12-values");
        assert_eq!(field_id("key"), "f-key");
        assert_eq!(field_id(""), "f-");
        assert_eq!(FieldError::new("rules[2]", "x").anchor(), "f-rules-2");
    }

    #[test]
    fn messages_join() {
        let errs = vec![FieldError::new("a", "one"), FieldError::new("b", "x"), FieldError::new("a", "two")];
        assert_eq!(message_for(&errs, "a").as_deref(), Some("one; two"));
        assert_eq!(message_for(&errs, "c"), None);
    }
}
