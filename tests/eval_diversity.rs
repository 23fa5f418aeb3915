//! Diversity per class: the pair protocol with a similarity whose values can be worked out by
//! hand, the paper's summary, and the tracker flagging a collapsing class.

use std::cell::RefCell;
use std::collections::HashSet;

use acgan::eval::diversity::{
    class_diversity, class_diversity_with, compare, DiversityConfig, DiversityTracker,
    TrackerConfig,
};
use acgan::init::SeededInit;
use acgan::{Conditioning, Error, Generator, GeneratorConfig};
use candle_core::{Device, Tensor};
use candle_nn::VarMap;

const CPU: Device = Device::Cpu;

/// `1 - mean(|a - b|)` per pair, written here with tensor ops independent of the crate.
fn l1_similarity(a: &Tensor, b: &Tensor) -> acgan::Result<Vec<f64>> {
    let mean = (a - b)?.abs()?.flatten_from(1)?.mean(1)?;
    Ok(mean
        .to_vec1::<f32>()?
        .iter()
        .map(|&d| 1.0 - d as f64)
        .collect())
}

/// One 1x2x2 image per value, every pixel equal to it.
fn constant_images(values: &[f32]) -> Tensor {
    let n = values.len();
    Tensor::new(values, &CPU)
        .unwrap()
        .reshape((n, 1, 1, 1))
        .unwrap()
        .repeat((1, 1, 2, 2))
        .unwrap()
}

/// Seeded uniform noise images in [-1, 1].
fn noise_images(n: usize, seed: u64) -> Tensor {
    use rand::Rng as _;
    let mut rng = acgan::rng::seeded(seed);
    let values: Vec<f32> = (0..n * 28 * 28)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    Tensor::from_vec(values, (n, 1, 28, 28), &CPU).unwrap()
}

fn labels(values: &[u32]) -> Tensor {
    Tensor::new(values, &CPU).unwrap()
}

fn config(pairs_per_class: usize, seed: u64) -> DiversityConfig {
    DiversityConfig {
        pairs_per_class,
        seed,
        ..Default::default()
    }
}

#[test]
fn identical_images_score_one_and_small_classes_have_no_score() {
    let (one, other, lonely) = (noise_images(1, 1), noise_images(2, 2), noise_images(1, 3));
    let images = Tensor::cat(&[&one, &other, &one, &one, &lonely], 0).unwrap();
    let scores =
        class_diversity(&images, &labels(&[0, 1, 1, 0, 0, 2]), 4, &config(100, 0)).unwrap();
    // Class 0: three copies of one image; MS-SSIM of an image with itself is 1.
    let identical = scores[0].unwrap();
    assert!((identical - 1.0).abs() < 1e-9, "{identical}");
    // Class 1: two independent noise images are far from alike.
    assert!(scores[1].unwrap() < 0.5, "{scores:?}");
    // Class 2 has one sample, class 3 none.
    assert_eq!(&scores[2..], &[None, None]);
}

#[test]
fn few_samples_use_every_pair() {
    // Class 0 holds 0.0, 0.2 and 0.6: pairs at distances 0.2, 0.6, 0.4 score 0.8, 0.4, 0.6,
    // mean 0.6. Class 1 holds -0.5 and 0.5: one pair at distance 1, score 0.
    let images = constant_images(&[0.0, -0.5, 0.2, 0.5, 0.6]);
    let labels = labels(&[0, 1, 0, 1, 0]);
    let scores = class_diversity_with(&images, &labels, 2, &config(100, 7), &l1_similarity);
    let scores = scores.unwrap();
    assert!((scores[0].unwrap() - 0.6).abs() < 1e-6, "{scores:?}");
    assert!(scores[1].unwrap().abs() < 1e-6, "{scores:?}");
}

/// Runs `class_diversity_with` on ten class-0 images valued 0.00 .. 0.09 interleaved with
/// class-1 images valued 0.5, and returns class 0's score with the value pairs it was given.
fn record_class_zero(pairs: usize, seed: u64) -> (f64, Vec<(u32, u32)>, Vec<f64>) {
    let values: Vec<f32> = (0..10).flat_map(|i| [i as f32 / 100.0, 0.5]).collect();
    let labels = labels(&(0..20).map(|i| i % 2).collect::<Vec<u32>>());
    let seen = RefCell::new((Vec::new(), Vec::new()));
    let recording = |a: &Tensor, b: &Tensor| -> acgan::Result<Vec<f64>> {
        let first = |t: &Tensor| t.flatten_from(1).unwrap().narrow(1, 0, 1).unwrap();
        let (x, y) = (first(a).flatten_all()?, first(b).flatten_all()?);
        let values = l1_similarity(a, b)?;
        let mut seen = seen.borrow_mut();
        if x.to_vec1::<f32>()?[0] < 0.4 {
            let hundredths = |t: Tensor| -> Vec<u32> {
                let v = t.to_vec1::<f32>().unwrap();
                v.iter().map(|v| (v * 100.0).round() as u32).collect()
            };
            seen.0 = hundredths(x).into_iter().zip(hundredths(y)).collect();
            seen.1 = values.clone();
        }
        Ok(values)
    };
    let images = constant_images(&values);
    let scores = class_diversity_with(&images, &labels, 2, &config(pairs, seed), &recording);
    let (pairs, values) = seen.into_inner();
    (scores.unwrap()[0].unwrap(), pairs, values)
}

#[test]
fn drawn_pairs_are_distinct_members_without_repeats_and_seeded() {
    // Ten samples have 45 pairs; 20 are drawn.
    let (score, pairs, values) = record_class_zero(20, 3);
    assert_eq!(pairs.len(), 20);
    let mut unordered = HashSet::new();
    for &(a, b) in &pairs {
        assert!(
            a < 10 && b < 10 && a != b,
            "{a} {b}: not two distinct class-0 samples"
        );
        assert!(
            unordered.insert((a.min(b), a.max(b))),
            "pair {a} {b} drawn twice"
        );
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    assert!((score - mean).abs() < 1e-12);
    assert_eq!(record_class_zero(20, 3).1, pairs, "same seed, same pairs");
    assert_ne!(
        record_class_zero(20, 4).1,
        pairs,
        "another seed, other pairs"
    );
    // Asking for 45 or more uses all 45.
    assert_eq!(record_class_zero(1000, 3).1.len(), 45);
}

#[test]
fn class_diversity_refuses_bad_labels_shapes_and_config() {
    let images = constant_images(&[0.0, 0.1, 0.2]);
    let sim = &l1_similarity;
    let run = |images: &Tensor, labels: &Tensor, config: &DiversityConfig| {
        class_diversity_with(images, labels, 2, config, sim)
    };
    let ok_config = config(10, 0);
    match run(&images, &labels(&[0, 2, 1]), &ok_config) {
        Err(Error::LabelOutOfRange {
            label, num_classes, ..
        }) => assert_eq!((label, num_classes), (2, 2)),
        other => panic!("expected LabelOutOfRange, got {other:?}"),
    }
    let short = labels(&[0, 1]);
    assert!(matches!(
        run(&images, &short, &ok_config),
        Err(Error::Shape { .. })
    ));
    let flat = images.flatten_from(1).unwrap();
    let three = labels(&[0, 1, 1]);
    assert!(matches!(
        run(&flat, &three, &ok_config),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        run(&images, &three, &config(0, 0)),
        Err(Error::Config { .. })
    ));
    let wrong_count = |_: &Tensor, _: &Tensor| -> acgan::Result<Vec<f64>> { Ok(vec![1.0]) };
    let bad = class_diversity_with(&images, &labels(&[1, 1, 1]), 2, &ok_config, &wrong_count);
    assert!(matches!(bad, Err(Error::Config { .. })));
}

#[test]
fn compare_finds_the_least_diverse_real_class_and_the_share_below() {
    let real = [Some(0.3), Some(0.5), None, Some(0.4)];
    let generated = [Some(0.2), Some(0.6), Some(0.45), None];
    let report = compare(&generated, &real).unwrap();
    assert_eq!(report.least_diverse_real, 0.5);
    assert_eq!(report.least_diverse_real_class, 1);
    // 0.2 and 0.45 are below 0.5, 0.6 is not; class 3 has no generated score: 2 of 3.
    assert!((report.share_of_generated_below - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(report.above_real_maximum(), vec![1]);
    // A score equal to the maximum is neither below it nor above it.
    let report = compare(&[Some(0.5), Some(0.1)], &[Some(0.5), None]).unwrap();
    assert_eq!(report.share_of_generated_below, 0.5);
    assert!(report.above_real_maximum().is_empty());
}

#[test]
fn compare_refuses_mismatched_or_empty_scores() {
    let config_error = |r: acgan::Result<_>| matches!(r, Err(Error::Config { .. }));
    assert!(config_error(compare(&[Some(0.1)], &[Some(0.1), Some(0.2)])));
    assert!(config_error(compare(&[Some(0.1), None], &[None, None])));
    assert!(config_error(compare(&[None, None], &[Some(0.1), None])));
}

/// A generator whose label scales the noise (EmbeddingProduct): zeroing one class's embedding
/// row makes every sample of that class the same image.
fn embedding_generator() -> (Generator, VarMap) {
    let config = GeneratorConfig {
        latent_dim: 8,
        num_classes: 4,
        conditioning: Conditioning::EmbeddingProduct,
        initial_size: 2,
        initial_channels: 4,
        channels: vec![3, 1],
        ..GeneratorConfig::mnist()
    };
    let vars = VarMap::new();
    let g = Generator::new(&config, SeededInit::var_builder(&vars, 5, &CPU)).unwrap();
    (g, vars)
}

fn collapse_class(vars: &VarMap, class: usize) {
    let data = vars.data().lock().unwrap();
    let table = &data["embedding"];
    let mut rows = table.to_vec2::<f32>().unwrap();
    rows[class].iter_mut().for_each(|v| *v = 0.0);
    table.set(&Tensor::new(rows, &CPU).unwrap()).unwrap();
}

fn tracker_config() -> TrackerConfig {
    TrackerConfig {
        every: 5,
        samples_per_class: 6,
        diversity: config(10, 1),
    }
}

#[test]
fn tracker_flags_a_class_whose_score_rises_past_the_real_maximum() {
    let (g, vars) = embedding_generator();
    let sim = l1_similarity;
    // A first tracker whose real maximum is 1 measures the healthy generator.
    let mut probe =
        DiversityTracker::from_real_scores(vec![Some(1.0); 4], tracker_config(), sim, &CPU)
            .unwrap();
    let healthy = probe.check(0, &g).unwrap().report.generated;
    let top = healthy.iter().flatten().fold(0.0f64, |a, &b| a.max(b));
    assert!(top < 1.0, "{healthy:?}");
    // Real maximum half way between the healthy scores and 1.
    let real = vec![Some(0.0), Some((top + 1.0) / 2.0), None, Some(0.0)];
    let mut tracker =
        DiversityTracker::from_real_scores(real, tracker_config(), sim, &CPU).unwrap();
    let first = tracker.observe(0, &g).unwrap().unwrap();
    assert_eq!(
        first.report.generated, healthy,
        "the same noise at every check"
    );
    assert!(first.collapsed.is_empty());
    assert_eq!(first.report.share_of_generated_below, 1.0);
    assert!(tracker.observe(7, &g).unwrap().is_none());

    // Class 2's samples become identical: similarity 1, above the real maximum.
    collapse_class(&vars, 2);
    let second = tracker.observe(10, &g).unwrap().unwrap();
    assert_eq!(second.report.generated[2], Some(1.0));
    assert_eq!(
        (second.collapsed.clone(), second.newly_collapsed),
        (vec![2], vec![2])
    );
    assert_eq!(second.report.share_of_generated_below, 0.75);
    let third = tracker.observe(15, &g).unwrap().unwrap();
    assert_eq!((third.collapsed, third.newly_collapsed), (vec![2], vec![]));
    let steps: Vec<u64> = tracker.history().iter().map(|c| c.step).collect();
    assert_eq!(steps, [0, 10, 15]);
}

#[test]
fn tracker_scores_real_images_once_with_its_similarity() {
    let images = constant_images(&[0.0, -0.5, 0.2, 0.5, 0.6]);
    let labels = labels(&[0, 1, 0, 1, 0]);
    let config = tracker_config();
    let tracker =
        DiversityTracker::with_similarity(&images, &labels, 2, config.clone(), l1_similarity)
            .unwrap();
    let direct = class_diversity_with(&images, &labels, 2, &config.diversity, &l1_similarity);
    assert_eq!(tracker.real_scores(), direct.unwrap().as_slice());
    // A generator with another number of classes is refused.
    let (g, _) = embedding_generator();
    let mut tracker = tracker;
    assert!(matches!(tracker.check(0, &g), Err(Error::Config { .. })));
}

#[test]
fn tracker_refuses_bad_config_and_missing_real_scores() {
    let build = |config: TrackerConfig, real: Vec<Option<f64>>| {
        DiversityTracker::from_real_scores(real, config, l1_similarity, &CPU).map(|_| ())
    };
    let every_zero = TrackerConfig {
        every: 0,
        ..tracker_config()
    };
    let one_sample = TrackerConfig {
        samples_per_class: 1,
        ..tracker_config()
    };
    for config in [every_zero, one_sample] {
        assert!(matches!(
            build(config, vec![Some(0.5)]),
            Err(Error::Config { .. })
        ));
    }
    let none = build(tracker_config(), vec![None, None]);
    assert!(matches!(none, Err(Error::Config { .. })));
}
