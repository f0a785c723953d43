//! An `application/x-www-form-urlencoded` body → the web UI's form parsers:
//! `check_form_limits`, the rules editor (`ConfigDraft::from_pairs`, its
//! action and `to_json`), the segment form (`SegmentDraft`) and the
//! new-experiment form. Nothing may panic, whatever the field names.

#![no_main]

use std::borrow::Cow;

use flagyard_web::{ConfigDraft, NewExperimentForm, SegmentDraft, check_form_limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let decoded: Vec<(Cow<'_, str>, Cow<'_, str>)> = form_urlencoded::parse(data).collect();
    let pairs: Vec<(&str, &str)> = decoded.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    // The server refuses a form over the limits before parsing it; the
    // parsers are meant to be safe on any form, so they run either way.
    if let Err(e) = check_form_limits(pairs.iter().map(|(name, _)| *name)) {
        let _ = e.to_string();
    }

    let (mut draft, action) = ConfigDraft::from_pairs(pairs.iter().copied());
    if let Ok(json) = draft.to_json() {
        let again = ConfigDraft::from_json(&json, 1);
        let _ = again.to_json();
    }
    if draft.apply(action) {
        let _ = draft.to_json();
    }

    let (mut segment, action) = SegmentDraft::from_pairs(pairs.iter().copied());
    let _ = segment.to_json();
    if segment.apply(&action) {
        let _ = segment.to_json();
    }

    let _ = NewExperimentForm::from_pairs(pairs.iter().copied());
});
