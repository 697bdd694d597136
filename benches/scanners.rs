//! Criterion benches of the scanners on in-memory features:
//! `cargo bench --bench scanners`.

use criterion::{criterion_group, criterion_main, Criterion};
use poisonscan::fuse::fuse;
use poisonscan::scanners::{MatrixRef, ScanInput, SplitMix64, SCANNERS};
use poisonscan::settings::ScanOptions;

/// `n` rows of `d` Gaussian features in 10 classes.
fn features(n: usize, d: usize) -> (Vec<f32>, Vec<u32>) {
    let mut rng = SplitMix64::new(1);
    let centres: Vec<f64> = (0..10 * d).map(|_| 3.0 * rng.normal()).collect();
    let labels: Vec<u32> = (0..n).map(|i| (i % 10) as u32).collect();
    let data = labels
        .iter()
        .flat_map(|&c| (0..d).map(move |j| (c, j)))
        .map(|(c, j)| (centres[c as usize * d + j] + rng.normal()) as f32)
        .collect();
    (data, labels)
}

fn bench(c: &mut Criterion) {
    let (n, d) = (60_000, 128);
    let (data, labels) = features(n, d);
    // Out-of-sample probabilities of a fair model, for confident-learning.
    let mut rng = SplitMix64::new(3);
    let probs: Vec<f32> = labels
        .iter()
        .flat_map(|&l| {
            let conf = 0.6 + 0.39 * rng.next_f64() as f32;
            (0..10u32).map(move |c| if c == l { conf } else { (1.0 - conf) / 9.0 })
        })
        .collect();
    let input = ScanInput {
        probs: Some(MatrixRef::new(&probs, n, 10).unwrap()),
        ..ScanInput::new(MatrixRef::new(&data, n, d).unwrap(), &labels, 10)
    };
    let mut group = c.benchmark_group("60000x128");
    group.sample_size(10);
    for scanner in SCANNERS {
        group.bench_function(scanner.name(), |b| b.iter(|| scanner.scan(&input).unwrap()));
    }
    let settings = ScanOptions::default().check().unwrap();
    group.bench_function("all scanners + fuse", |b| {
        b.iter(|| {
            let outs: Vec<_> = settings
                .scanners
                .iter()
                .map(|s| s.scan(&input).unwrap())
                .collect();
            let refs: Vec<_> = outs.iter().collect();
            // given features, not the scan's own model: no class test needs corroboration
            fuse(&refs, &labels, 10, &[], &settings, &[], &[])
        })
    });
    group.finish();

    // kNN label disagreement over raw pixels: 60,000 × 784 values in [0, 1].
    let (n, d) = (60_000, 784);
    let (mut pixels, labels) = features(n, d);
    pixels
        .iter_mut()
        .for_each(|v| *v = (*v / 8.0 + 0.5).clamp(0.0, 1.0));
    let input = ScanInput {
        same_scale: true,
        ..ScanInput::new(MatrixRef::new(&pixels, n, d).unwrap(), &labels, 10)
    };
    let mut group = c.benchmark_group("60000x784");
    group.sample_size(10);
    let knn = poisonscan::scanners::find_scanner("knn-label-disagreement").unwrap();
    group.bench_function("knn-label-disagreement", |b| {
        b.iter(|| knn.scan(&input).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
