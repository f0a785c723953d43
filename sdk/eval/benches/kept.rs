//! The hand-written pieces the engine keeps instead of a crate, against
//! that crate (issue 12): MurmurHash3 x86_32 against `murmur3`, the semver
//! parser against `semver`, the key index against `rustc_hash::FxHashMap`.
//!
//!     cargo bench -p flagyard-eval --bench kept

#[allow(dead_code, unused_imports)]
#[path = "../src/index.rs"]
mod index;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use flagyard_eval::{SemVersion, murmur3_x86_32};
use rustc_hash::FxHashMap;

fn murmur(c: &mut Criterion) {
    let units: Vec<String> = (0..1024).map(|i| format!("new-checkout:user-{i}")).collect();
    let mut g = c.benchmark_group("murmur3_x86_32");
    let mut i = 0usize;
    g.bench_function("flagyard", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            murmur3_x86_32(black_box(units[i].as_bytes()), 0)
        })
    });
    g.bench_function("murmur3_crate", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            murmur3::murmur3_32(&mut black_box(units[i].as_bytes()), 0).unwrap()
        })
    });
    g.finish();
}

fn semver(c: &mut Criterion) {
    let versions: Vec<String> = (0..1024)
        .map(|i| format!("{}.{}.{}{}", i % 3, i % 17, i % 101, if i % 4 == 0 { "-beta.2" } else { "" }))
        .collect();
    let mut g = c.benchmark_group("semver_parse_and_compare");
    let mut i = 0usize;
    let floor = SemVersion::parse("1.2.0").unwrap();
    g.bench_function("flagyard", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            SemVersion::parse(black_box(&versions[i])).map(|v| v.precedence(&floor).is_gt())
        })
    });
    let floor = semver::Version::parse("1.2.0").unwrap();
    g.bench_function("semver_crate", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            semver::Version::parse(black_box(&versions[i])).map(|v| v > floor).ok()
        })
    });
    g.finish();
}

fn key_index(c: &mut Criterion) {
    let keys: Vec<String> = (0..200).map(|i| format!("flag-{i}")).collect();
    let index = index::KeyIndex::new(keys.iter().map(String::as_str));
    let map: FxHashMap<&str, usize> = keys.iter().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
    let mut g = c.benchmark_group("key_lookup_200_flags");
    let mut i = 0usize;
    g.bench_function("flagyard_key_index", |b| {
        b.iter(|| {
            i = (i + 1) % 200;
            index.get(black_box(&keys[i]))
        })
    });
    g.bench_function("fx_hash_map", |b| {
        b.iter(|| {
            i = (i + 1) % 200;
            map.get(black_box(keys[i].as_str())).copied()
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2))
}

criterion_group!(name = benches; config = config(); targets = murmur, semver, key_index);
criterion_main!(benches);
