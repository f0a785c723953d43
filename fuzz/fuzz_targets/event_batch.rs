//! A `POST /sdk/v1/events` body → the server's batch parser and per-event
//! validation (`ingest::validate::parse`, via `flagyard_server::fuzzing`).
//! Nothing may panic; with debug assertions, no arithmetic may overflow
//! (clock-skew correction, ages).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = flagyard_server::fuzzing::event_batch(data);
});
