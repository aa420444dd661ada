//! Parser throughput on the real 396 KB ledger and the fixture plans (MB/s).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ledger_loop::ledger::Ledger;
use ledger_loop::markdown::Document;
use ledger_loop::plan::Plan;

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../tests/fixtures/nanobragg/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn parsers(c: &mut Criterion) {
    let ledger = fixture("large/docs/fix_plan.md");
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(ledger.len() as u64));
    g.bench_function("ledger_large_396KB", |b| {
        b.iter(|| Ledger::parse(Document::parse("docs/fix_plan.md", ledger.clone())))
    });
    let plan = fixture("workspace/plans/active/cli-noise-pix0/plan.md");
    g.throughput(Throughput::Bytes(plan.len() as u64));
    g.bench_function("plan_20KB", |b| b.iter(|| Plan::parse(Document::parse("plan.md", plan.clone()))));
    g.finish();
}

criterion_group!(benches, parsers);
criterion_main!(benches);
