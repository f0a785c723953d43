//! Getter latency against the bare engine call on the same ruleset: the
//! SDK's overhead is the atomic pointer load and, for splits, the exposure
//! de-duplication lookup.
//!
//!     cargo bench -p flagyard --bench getters
//!
//! Cases (the engine benchmark's flags): `canary` (a 25 % split on the user
//! id: every evaluation is an exposure, de-duplicated after the first) and
//! `plain` (no rules). Each with one fixed context and cycling through 1,024
//! contexts already exposed.

#[path = "../eval/tests/common/fixtures.rs"]
mod fixtures;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use fixtures::{BENCH_SNAPSHOT, bench_context, bench_contexts, bench_ruleset};
use flagyard::Client;
use flagyard_eval::evaluate;

fn getters(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Events on (so exposures are recorded and de-duplicated), nobody
    // listening, no retries during the run.
    let client = rt.block_on(async {
        let port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        Client::builder(format!("http://127.0.0.1:{port}"), "bench")
            .bootstrap_json(BENCH_SNAPSHOT)
            .streaming(false)
            .poll_interval(Duration::from_secs(3600))
            .flush_interval(Duration::from_secs(3600))
            .init_timeout(Duration::ZERO)
            .build()
            .await
            .unwrap()
    });
    let offline = rt.block_on(Client::builder("", "").offline(true).bootstrap_json(BENCH_SNAPSHOT).build()).unwrap();
    let rules = bench_ruleset();
    let fixed = bench_context(7);
    let many = bench_contexts(1024);
    for ctx in &many {
        client.bool_value("canary", ctx, false);
    }
    client.bool_value("canary", &fixed, false);

    let mut g = c.benchmark_group("getters");
    g.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for key in ["canary", "plain"] {
        g.bench_function(format!("{key}/engine/fixed"), |b| {
            b.iter(|| black_box(evaluate(&rules, black_box(key), &fixed)))
        });
        g.bench_function(format!("{key}/bool_value/fixed"), |b| {
            b.iter(|| black_box(client.bool_value(black_box(key), &fixed, false)))
        });
        g.bench_function(format!("{key}/bool_value_no_events/fixed"), |b| {
            b.iter(|| black_box(offline.bool_value(black_box(key), &fixed, false)))
        });
        let mut i = 0usize;
        g.bench_function(format!("{key}/engine/cycling"), |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                black_box(evaluate(&rules, black_box(key), &many[i]))
            })
        });
        g.bench_function(format!("{key}/bool_value/cycling"), |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                black_box(client.bool_value(black_box(key), &many[i], false))
            })
        });
    }
    g.finish();
    rt.block_on(client.close());
}

criterion_group!(benches, getters);
criterion_main!(benches);
