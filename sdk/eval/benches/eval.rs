//! Evaluation latency: Flagyard's engine, and with `--features bench-peers`
//! the equivalent configuration in Unleash's Yggdrasil engine, in one run.
//!
//!     cargo bench -p flagyard-eval --features bench-peers --bench eval
//!
//! Cases: (a) a 25 % canary on the user id; (b) three conditions then a
//! 50/30/20 split at 50 % coverage; (c) a plain enabled flag. Each with one
//! fixed context and with the user id cycling through 1,024 contexts; and
//! (c)'s floor: its precomputed answer copied out of an `FxHashMap`.
//!
//! Criterion hands each routine's result to `black_box` itself; the routines
//! (here and in the Yggdrasil group) do not add a second one, which only
//! copied the result through the stack once more.

#[path = "../tests/common/fixtures.rs"]
mod fixtures;
#[cfg(feature = "bench-peers")]
mod yggdrasil;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use fixtures::{bench_context, bench_contexts, bench_ruleset};
use flagyard_eval::{Detail, evaluate};
use rustc_hash::FxHashMap;

const CASES: [(&str, &str); 3] =
    [("a_canary_25", "canary"), ("b_conditions_split", "experiment"), ("c_plain", "plain")];

fn flagyard(c: &mut Criterion) {
    let rules = bench_ruleset();
    let fixed = bench_context(7);
    let many = bench_contexts(1024);
    let mut g = c.benchmark_group("flagyard");
    for (case, key) in CASES {
        g.bench_function(format!("{case}/fixed"), |b| b.iter(|| evaluate(&rules, black_box(key), &fixed)));
        let mut i = 0usize;
        g.bench_function(format!("{case}/cycling"), |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                evaluate(&rules, black_box(key), &many[i])
            })
        });
    }
    // The floor for (c): look the key up in a hash map and copy out the
    // precomputed answer. The plain flag's evaluation is measured against it.
    let answers: FxHashMap<&str, Detail<'_>> = CASES.iter().map(|(_, k)| (*k, evaluate(&rules, k, &fixed))).collect();
    g.bench_function("c_plain/floor", |b| b.iter(|| answers.get(black_box("plain")).copied()));
    g.finish();
}

#[cfg(feature = "bench-peers")]
fn peers(c: &mut Criterion) {
    yggdrasil::bench(c);
}

#[cfg(not(feature = "bench-peers"))]
fn peers(_: &mut Criterion) {}

criterion_group!(benches, flagyard, peers);
criterion_main!(benches);
