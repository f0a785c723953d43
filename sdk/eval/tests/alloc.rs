//! Evaluation allocates nothing: a counting global allocator proves it on the
//! benchmark flags and on every operator.

mod common {
    pub mod fixtures;
}

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::fixtures::{bench_contexts, bench_ruleset};
use flagyard_eval::{Context, FlagType, Ruleset, evaluate, evaluate_typed};

struct Counting;

thread_local! {
    // `const` initialisation: reading these never allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn the_counter_sees_allocations() {
    assert!(allocations(|| drop(std::hint::black_box(vec![1u8; 16]))) >= 1);
}

#[test]
fn benchmark_flags_evaluate_without_allocating() {
    let rules = bench_ruleset();
    let contexts = bench_contexts(1024);
    let mut served = 0usize;
    let n = allocations(|| {
        for ctx in &contexts {
            for key in ["canary", "experiment", "plain", "missing"] {
                let d = evaluate(&rules, key, ctx);
                served += usize::from(d.served_by_split());
                std::hint::black_box(d);
            }
            std::hint::black_box(evaluate_typed(&rules, "plain", ctx, FlagType::String));
        }
    });
    assert_eq!(n, 0, "evaluation allocated {n} times");
    assert!(served > 0, "the benchmark contexts should hit the splits");
}

#[test]
fn every_operator_evaluates_without_allocating() {
    let rules = Ruleset::from_json(
        r#"{"environment": "e", "segments": {"seg": {"included": ["a"], "conditions": [{"attribute": "n", "op": "gte", "values": [0]}]}},
        "flags": {
          "dep": {"type": "boolean", "variants": [{"key": "on", "value": true}],
                  "environments": {"e": {"enabled": true, "offVariant": "on", "defaultVariant": "on"}}},
          "all": {"type": "json", "variants": [{"key": "x", "value": {"a": [1, 2]}}, {"key": "y", "value": null}],
            "environments": {"e": {"enabled": true, "offVariant": "y", "defaultVariant": "y",
              "prerequisites": [{"flag": "dep", "variants": ["on"]}],
              "rules": [{"conditions": [
                {"attribute": "s", "op": "eq", "values": ["hello world"]},
                {"attribute": "s", "op": "neq", "values": ["bye"]},
                {"attribute": "s", "op": "in", "values": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "hello world"]},
                {"attribute": "s", "op": "not_in", "values": ["x"]},
                {"attribute": "s", "op": "contains", "values": ["lo w"]},
                {"attribute": "s", "op": "starts_with", "values": ["hell"]},
                {"attribute": "s", "op": "ends_with", "values": ["orld"]},
                {"attribute": "s", "op": "matches", "values": ["^h.*d$"]},
                {"attribute": "n", "op": "lt", "values": [10]},
                {"attribute": "n", "op": "lte", "values": [5]},
                {"attribute": "n", "op": "gt", "values": [1]},
                {"attribute": "n", "op": "gte", "values": [5]},
                {"attribute": "v", "op": "semver_lt", "values": ["2.0.0"]},
                {"attribute": "v", "op": "semver_lte", "values": ["1.0.0-rc.10"]},
                {"attribute": "v", "op": "semver_eq", "values": ["1.0.0-rc.10"]},
                {"attribute": "v", "op": "semver_gte", "values": ["1.0.0-beta.1.longer-than-eight"]},
                {"attribute": "v", "op": "semver_gt", "values": ["0.9.0"]},
                {"attribute": "d", "op": "before", "values": ["2030-01-01T00:00:00+02:00"]},
                {"attribute": "d", "op": "after", "values": [0]},
                {"attribute": "l", "op": "in", "values": ["beta"]},
                {"attribute": "s", "op": "exists"},
                {"op": "segment", "values": ["seg"]},
                {"op": "prerequisite", "flag": "dep", "values": ["on"]}
              ], "serve": {"split": {"variants": [{"variant": "x", "weight": 10000}], "bucketBy": "n"}}}]}}}
        }}"#,
    )
    .expect("valid");
    let ctx = Context::new("someone")
        .with("s", "hello world")
        .with("n", 5)
        .with("v", "1.0.0-rc.10+build.7")
        .with("d", "2025-06-01T12:00:00.250-07:00")
        .with("l", vec!["alpha", "beta"]);
    // Warm up once: the regex engine fills its per-thread cache on first use.
    assert_eq!(evaluate(&rules, "all", &ctx).variant(), Some("x"), "{}", evaluate(&rules, "all", &ctx));
    let n = allocations(|| {
        for _ in 0..100 {
            std::hint::black_box(evaluate(&rules, "all", &ctx));
        }
    });
    assert_eq!(n, 0, "evaluation allocated {n} times");
}
