//! Rendering cost of the heaviest pages: the flags list with 1,000 flags in
//! 3 environments, and a flag page with a full rules editor.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use flagyard_web::Template;

fn render(c: &mut Criterion) {
    let flags = common::flags_page(1000);
    let size = flags.render().map(|s| s.len()).unwrap_or(0);
    eprintln!("flags list (1000 × 3): {} KiB of HTML", size / 1024);
    c.bench_function("flags_list_1000x3", |b| b.iter(|| black_box(&flags).render()));
    let table = &flags.table;
    c.bench_function("flags_table_fragment_1000x3", |b| b.iter(|| black_box(table).render()));
    let flag = common::flag_page();
    c.bench_function("flag_page", |b| b.iter(|| black_box(&flag).render()));
    let exp = common::experiment_page();
    c.bench_function("experiment_page", |b| b.iter(|| black_box(&exp).render()));
}

criterion_group!(benches, render);
criterion_main!(benches);
