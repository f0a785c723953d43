//! An OFREP evaluation request body (`{"context": {...}}`) → the server's
//! parser (`live::ofrep::parse_context`, via `flagyard_server::fuzzing`);
//! an accepted context is then evaluated against every flag of a fixed
//! ruleset, as the OFREP endpoints do. Nothing may panic, and every flag
//! yields a value.

#![no_main]

use std::sync::LazyLock;

use flagyard_eval::Ruleset;
use libfuzzer_sys::fuzz_target;

/// Rules with one flag per kind of condition a context can meet.
static RULES: LazyLock<Ruleset> = LazyLock::new(|| {
    Ruleset::from_json(include_str!("ofrep_rules.json")).expect("fuzz/fuzz_targets/ofrep_rules.json compiles")
});

fuzz_target!(|data: &[u8]| {
    let Some(ctx) = flagyard_server::fuzzing::ofrep_request(data) else { return };
    for key in RULES.flag_keys() {
        let d = RULES.evaluate(key, &ctx);
        assert!(d.value().is_some(), "flag `{key}` yields no value: {d}");
        let _ = d.to_string();
    }
});
