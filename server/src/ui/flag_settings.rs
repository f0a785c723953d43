//! A flag's settings, on its page: its name, description, tags and
//! variants; archive and unarchive; delete (confirmed) — through the same
//! services as the admin API, with their guards (a refusal comes back to
//! the flag's page in words).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use flagyard_eval::Variant;
use flagyard_web::{FieldError, FlashKind, Section, plain_quotes};

use super::answer::{done, encode};
use super::deletion::{Deletion, delete_confirmed};
use super::error::UiError;
use super::request::{Pairs, Posted, Signed, authorize, field, write_value};
use crate::auth::Role;
use crate::service::Error as DomainError;
use crate::service::{self, FlagPatch};
use crate::state::AppState;
use crate::store::{Backend, FlagQueries};

pub(super) fn routes<B: Backend>() -> Router<AppState<B>> {
    Router::new()
        .route("/flags/{key}/definition", post(definition::<B>))
        .route("/flags/{key}/archive", post(archive::<B>))
        .route("/flags/{key}/delete", post(delete::<B>))
}

/// The variants typed as `key = value` lines; a value that is not JSON is a
/// string when the flag is a string flag. Errors name the line.
fn parse_variants(text: &str, string_flag: bool) -> Result<Vec<Variant>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let (key, value) =
            line.split_once('=').ok_or_else(|| format!("variants, line {}: write it as key = value", i + 1))?;
        let (key, value) = (key.trim(), value.trim());
        let value = match serde_json::from_str::<serde_json::Value>(value) {
            Ok(v) => v,
            Err(_) if string_flag => serde_json::Value::String(value.to_owned()),
            Err(_) => {
                return Err(format!(
                    "variants, line {}: “{value}” is not a value (write true, 3, \"text\" or a JSON object)",
                    i + 1
                ));
            }
        };
        out.push(Variant { key: key.to_owned(), value });
    }
    Ok(out)
}

/// The flag's page, with `message`.
fn back(headers: &HeaderMap, key: &str, kind: FlashKind, message: &str) -> Response {
    done(headers, &format!("/flags/{}#settings", encode(key)), kind, message)
}

/// A refusal in words ("Not saved: …"), paths as the editor names them;
/// anything else is an error page.
fn in_words(e: DomainError, strip: &str) -> Result<String, DomainError> {
    let words: Vec<String> = match e {
        DomainError::Invalid { errors, .. } => errors
            .into_iter()
            .map(|f| FieldError::new(f.path.strip_prefix(strip).unwrap_or(&f.path), f.message))
            .map(|f| if f.path.is_empty() { f.message } else { format!("{}: {}", f.place(), f.message) })
            .collect(),
        e @ (DomainError::Conflict(_) | DomainError::ConflictAt { .. } | DomainError::NotFound(_)) => {
            vec![plain_quotes(&e.to_string())]
        }
        other => return Err(other),
    };
    Ok(format!("Not saved: {}", words.join("; ")))
}

/// A write's refusal, in words, on the flag's page.
fn refused(headers: &HeaderMap, key: &str, e: DomainError) -> Result<Response, UiError> {
    let words = in_words(e, &format!("flags.{key}."))?;
    Ok(back(headers, key, FlashKind::Error, &words))
}

async fn update<B: Backend>(
    s: &AppState<B>,
    actor: String,
    key: &str,
    patch: FlagPatch,
) -> Result<service::FlagView, DomainError> {
    let key = key.to_owned();
    write_value(s, move |tx| Box::pin(async move { service::update_flag(tx, &actor, &key, patch).await })).await
}

/// `POST /flags/{key}/definition`: name, description, tags, variants.
async fn definition<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(key): Path<String>,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, field(&pairs, "csrf"), Role::Editor)?;
    let mut tx = s.store.read().await?;
    let flag = tx.flag(&key).await?.ok_or_else(|| DomainError::NotFound(format!("flag `{key}`")))?;
    drop(tx);
    let variants = match parse_variants(field(&pairs, "variants"), flag.kind == "string") {
        Ok(v) => v,
        Err(message) => return Ok(back(&headers, &key, FlashKind::Error, &format!("Not saved: {message}"))),
    };
    let tags: Vec<String> =
        field(&pairs, "tags").split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
    let name = field(&pairs, "name").trim();
    let patch = FlagPatch {
        name: Some(if name.is_empty() { key.clone() } else { name.to_owned() }),
        description: Some(field(&pairs, "description").trim().to_owned()),
        tags: Some(tags),
        variants: Some(variants),
        archived: None,
        base_revision: field(&pairs, "baseRevision").parse().ok(),
    };
    match update(&s, user.actor(), &key, patch).await {
        Ok(view) => Ok(back(&headers, &key, FlashKind::Success, &format!("Settings of {} saved.", view.key))),
        Err(e) => refused(&headers, &key, e),
    }
}

/// `POST /flags/{key}/archive` with `archived` `true` or `false`.
async fn archive<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(key): Path<String>,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, field(&pairs, "csrf"), Role::Editor)?;
    let archived = field(&pairs, "archived") != "false";
    let patch = FlagPatch { archived: Some(archived), ..FlagPatch::default() };
    match update(&s, user.actor(), &key, patch).await {
        Ok(_) => {
            let message = if archived { format!("{key} archived.") } else { format!("{key} unarchived.") };
            Ok(back(&headers, &key, FlashKind::Success, &message))
        }
        Err(e) => refused(&headers, &key, e),
    }
}

/// `POST /flags/{key}/delete`: asks first, then deletes everywhere.
async fn delete<B: Backend>(
    State(s): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Path(key): Path<String>,
    Posted(pairs): Posted<Pairs>,
) -> Result<Response, UiError> {
    let d = Deletion {
        question: format!("Delete flag {key}?"),
        detail: "It goes from every environment at once: SDKs then serve their code defaults for it. Its history \
                 stays in the audit log; this cannot be undone.",
        confirm_label: "Delete the flag",
        item: format!("/flags/{}#settings", encode(&key)),
        action: format!("/flags/{}/delete", encode(&key)),
        list: "/flags",
        deleted: format!("Flag {key} deleted."),
        section: Section::Flags,
    };
    let (actor, prefix) = (user.actor(), format!("flags.{key}."));
    let words = move |e| in_words(e, &prefix);
    delete_confirmed(&s, &user, &headers, &pairs, d, words, move |tx| {
        Box::pin(async move { service::delete_flag(tx, &actor, &key).await })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_read_as_typed() {
        let v = parse_variants("on = true\n\n off=false ", false).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!((v[1].key.as_str(), &v[1].value), ("off", &serde_json::json!(false)));
        let s = parse_variants("blue = dark blue\nred = \"red\"", true).unwrap();
        assert_eq!(s[0].value, "dark blue");
        assert_eq!(s[1].value, "red");
        assert!(parse_variants("on true", false).unwrap_err().contains("line 1"));
        assert!(parse_variants("a = 1\nb = nope", false).unwrap_err().contains("line 2"));
    }
}
