//! Evaluates one benchmark case N times, for instruction counts under
//! callgrind (`scripts/engine-instructions.sh` runs it twice, at two N, and
//! divides the difference: the setup cancels out).
//!
//!     cargo run --release -p flagyard-eval --example instructions -- <case> <n>
//!
//! Cases: the criterion benchmark's (`canary`, `experiment`, `plain`, each
//! with one fixed context or `-cycling` through 1,024), and `floor`: the
//! plain flag's precomputed answer from a hash map.

#[path = "../tests/common/fixtures.rs"]
mod fixtures;

use std::hint::black_box;

use fixtures::{bench_context, bench_contexts, bench_ruleset};
use flagyard_eval::{Detail, evaluate};
use rustc_hash::FxHashMap;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(case), Some(n)) = (args.next(), args.next().and_then(|n| n.parse::<usize>().ok())) else {
        eprintln!("usage: instructions <canary|experiment|plain>[-cycling]|floor <n>");
        std::process::exit(2);
    };
    let rules = bench_ruleset();
    let fixed = bench_context(7);
    let many = bench_contexts(1024);
    let (flag, cycling) = match case.strip_suffix("-cycling") {
        Some(flag) => (flag.to_owned(), true),
        None => (case.clone(), false),
    };
    if flag == "floor" {
        let answers: FxHashMap<&str, Detail<'_>> =
            ["canary", "experiment", "plain"].into_iter().map(|k| (k, evaluate(&rules, k, &fixed))).collect();
        for _ in 0..n {
            black_box(answers.get(black_box("plain")).copied());
        }
        return;
    }
    if rules.flag_index(&flag).is_none() {
        eprintln!("no case `{case}`");
        std::process::exit(2);
    }
    for i in 0..n {
        let ctx = if cycling { &many[i & 1023] } else { &fixed };
        black_box(evaluate(&rules, black_box(&flag), ctx));
    }
}
