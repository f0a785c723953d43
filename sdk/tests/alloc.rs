//! `bool_value` and `number_value` allocate nothing: a counting global
//! allocator proves it, for served values, defaults (unknown flag, wrong
//! type, not ready) and repeated exposures of a split.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use flagyard::Context;
use support::*;

struct Counting;

thread_local! {
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

#[tokio::test(flavor = "current_thread")]
async fn bool_and_number_getters_do_not_allocate() {
    // Events on (exposures are recorded), the rules from a bootstrap, and
    // nobody listening: the getters never touch the network anyway.
    let client = builder(&closed_url().await)
        .init_timeout(Duration::ZERO)
        .send_events(true)
        .bootstrap_json(snapshot(5).to_string())
        .build()
        .await
        .unwrap();
    let contexts: Vec<Context<'static>> =
        (0..256).map(|i| Context::new(format!("user-{i}")).with("org", i64::from(i))).collect();
    // Warm-up: the first exposure of each unit allocates (documented), and
    // the first load on a thread sets up arc-swap's thread-local slot.
    let mut exposed = 0;
    for ctx in &contexts {
        exposed += usize::from(client.bool_value("canary", ctx, false));
        client.bool_value("by-org", ctx, false);
    }
    assert!(exposed > 0);
    let mut on = 0usize;
    let n = allocations(|| {
        for ctx in &contexts {
            on += usize::from(client.bool_value("bool-flag", ctx, false));
            on += usize::from(client.bool_value("off-flag", ctx, false));
            on += usize::from(client.bool_value("canary", ctx, false)); // repeated exposure
            on += usize::from(client.bool_value("by-org", ctx, false)); // integer unit
            on += client.number_value("number-flag", ctx, 0.0) as usize;
            // Defaults: unknown flag, wrong type.
            on += usize::from(client.bool_value("missing", ctx, false));
            on += client.number_value("bool-flag", ctx, 0.0) as usize;
        }
    });
    assert_eq!(n, 0, "the getters allocated {n} times");
    assert!(on > 256 * 4);
    client.close().await;

    // Not ready: no rules at all.
    let empty = builder(&closed_url().await).init_timeout(Duration::ZERO).build().await.unwrap();
    let ctx = Context::new("u");
    empty.bool_value("x", &ctx, true);
    let n = allocations(|| {
        for _ in 0..100 {
            std::hint::black_box(empty.bool_value("x", &ctx, true));
            std::hint::black_box(empty.number_value("x", &ctx, 1.0));
        }
    });
    assert_eq!(n, 0);
    empty.close().await;
}
