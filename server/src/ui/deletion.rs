//! The one flow every "Delete …" button of the UI follows: the editor's
//! CSRF and role check, a confirmation (a dialog with JavaScript, which
//! posts `confirm=yes`; a page of its own without), the service's delete,
//! and an answer in words: the list on success, the item's page with the
//! refusal (in use, running, gone) otherwise.

use std::future::Future;
use std::pin::Pin;

use axum::http::HeaderMap;
use axum::response::Response;
use flagyard_web::{ConfirmPage, FlashKind, Section};

use super::answer::{done, frame, page};
use super::error::UiError;
use super::request::{Pairs, authorize, confirmed, field, write_value};
use crate::auth::Role;
use crate::http::UiUser;
use crate::service::Error as DomainError;
use crate::state::AppState;
use crate::store::Backend;

/// What a deletion asks and where it answers.
pub struct Deletion {
    /// "Delete flag base?"
    pub question: String,
    /// What follows from it.
    pub detail: &'static str,
    /// The button of the confirmation page.
    pub confirm_label: &'static str,
    /// The item's page (cancel, and where a refusal is shown).
    pub item: String,
    /// Where the form posts (`{item}/delete`, path-encoded by the caller).
    pub action: String,
    /// The list, where a deletion ends.
    pub list: &'static str,
    /// "Flag base deleted."
    pub deleted: String,
    /// The page's section.
    pub section: Section,
}

/// Runs the flow; `job` is the service's delete in the writer.
pub async fn delete_confirmed<B, F>(
    s: &AppState<B>,
    user: &UiUser,
    headers: &HeaderMap,
    pairs: &Pairs,
    d: Deletion,
    refusal: impl FnOnce(DomainError) -> Result<String, DomainError>,
    job: F,
) -> Result<Response, UiError>
where
    B: Backend,
    F: for<'t> FnOnce(&'t mut B::Tx) -> Pin<Box<dyn Future<Output = Result<(), DomainError>> + Send + 't>>
        + Send
        + 'static,
{
    authorize(user, headers, field(pairs, "csrf"), Role::Editor)?;
    if !confirmed(pairs) {
        let view = ConfirmPage {
            layout: frame(user, headers, "Confirm", d.section),
            question: d.question,
            detail: d.detail.into(),
            action: d.action,
            confirm_label: d.confirm_label.into(),
            cancel_href: d.item,
            fields: Vec::new(),
        };
        return Ok(page(user, &view));
    }
    match write_value(s, job).await {
        Ok(()) => Ok(done(headers, d.list, FlashKind::Success, &d.deleted)),
        Err(e) => match refusal(e) {
            Ok(words) => Ok(done(headers, &d.item, FlashKind::Error, &words)),
            Err(other) => Err(other.into()),
        },
    }
}

/// The usual refusals, in the service's words: in use or running
/// (conflict), gone, or invalid.
pub fn refused_as_is(e: DomainError) -> Result<String, DomainError> {
    match e {
        e @ (DomainError::Conflict(_)
        | DomainError::ConflictAt { .. }
        | DomainError::NotFound(_)
        | DomainError::Invalid { .. }) => Ok(e.to_string()),
        other => Err(other),
    }
}
