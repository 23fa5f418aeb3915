//! Bilinear resizing against hand-computed values and an independent per-pixel
//! implementation, and the accuracy-against-resolution curve on a classifier whose decisions
//! are known in advance and on one trained on real digits.
//!
//! Hand values use the half-pixel convention of the module docs: along a side scaled from
//! `input` to `output`, output sample `o` reads the input at `max((o + 0.5) * input / output
//! - 0.5, 0)`, interpolating between the two nearest samples and repeating the last one.

use std::collections::HashMap;

use acgan::discriminator::ConvLayer;
use acgan::eval::classifier::{
    train_classifier, Classifier, ClassifierConfig, ClassifierTraining, ValueRange,
};
use acgan::eval::resolution::{accuracy_by_resolution, default_sizes, resize_bilinear};
use acgan::Error;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

const TOLERANCE: f32 = 1e-5;

fn image(rows: &[&[f32]]) -> Tensor {
    let (h, w) = (rows.len(), rows[0].len());
    let values: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_vec(values, (1, 1, h, w), &Device::Cpu).unwrap()
}

fn rows(t: &Tensor) -> Vec<Vec<f32>> {
    t.squeeze(0).unwrap().squeeze(0).unwrap().to_vec2().unwrap()
}

fn assert_close(found: &[Vec<f32>], expected: &[&[f32]]) {
    assert_eq!(found.len(), expected.len(), "rows");
    for (f, e) in found.iter().zip(expected) {
        assert_eq!(f.len(), e.len(), "columns");
        for (a, b) in f.iter().zip(e.iter()) {
            assert!(
                (a - b).abs() <= TOLERANCE,
                "found {found:?}, expected {expected:?}"
            );
        }
    }
}

fn random_images(dims: (usize, usize, usize, usize), seed: u64) -> Tensor {
    use rand::Rng as _;
    let mut rng = acgan::rng::seeded(seed);
    let n = dims.0 * dims.1 * dims.2 * dims.3;
    let values: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    Tensor::from_vec(values, dims, &Device::Cpu).unwrap()
}

#[test]
fn two_by_two_up_to_four_by_four_matches_hand_values() {
    // Each side 2 -> 4: samples read at -0.25 (clamped to 0), 0.25, 0.75 and 1.25 (beyond the
    // last sample), i.e. weights (1, 0), (0.75, 0.25), (0.25, 0.75), (0, 1).
    // Rows of [[0, 4], [8, 12]] become [0, 1, 3, 4] and [8, 9, 11, 12]; the middle rows mix
    // them 0.75/0.25 and 0.25/0.75.
    let up = resize_bilinear(&image(&[&[0.0, 4.0], &[8.0, 12.0]]), 4, 4).unwrap();
    assert_close(
        &rows(&up),
        &[
            &[0.0, 1.0, 3.0, 4.0],
            &[2.0, 3.0, 5.0, 6.0],
            &[6.0, 7.0, 9.0, 10.0],
            &[8.0, 9.0, 11.0, 12.0],
        ],
    );
}

#[test]
fn four_by_four_down_to_two_by_two_averages_blocks() {
    // Each side 4 -> 2: samples read at 0.5 and 2.5, halfway between two inputs, so every
    // output is the mean of a 2x2 block of 0..16 laid out row-major.
    let values: Vec<f32> = (0..16).map(|v| v as f32).collect();
    let x = Tensor::from_vec(values, (1, 1, 4, 4), &Device::Cpu).unwrap();
    let down = resize_bilinear(&x, 2, 2).unwrap();
    assert_close(&rows(&down), &[&[2.5, 4.5], &[10.5, 12.5]]);
}

#[test]
fn uneven_factors_on_each_side_match_hand_values() {
    // Width 3 -> 2: samples read at 0.25 and 1.75, weights (0.75, 0.25, 0) and
    // (0, 0.25, 0.75): [0, 3, 6] -> [0.75, 5.25] and [12, 15, 18] -> [12.75, 17.25].
    // Height 2 -> 4 as in the 2x2 test mixes those two rows.
    let x = image(&[&[0.0, 3.0, 6.0], &[12.0, 15.0, 18.0]]);
    let out = resize_bilinear(&x, 4, 2).unwrap();
    assert_close(
        &rows(&out),
        &[
            &[0.75, 5.25],
            &[3.75, 8.25],
            &[9.75, 14.25],
            &[12.75, 17.25],
        ],
    );
}

/// PyTorch's `align_corners=False` bilinear resize written per output pixel, as an
/// implementation independent of the matrices.
fn reference_resize(img: &[f32], (h, w): (usize, usize), (oh, ow): (usize, usize)) -> Vec<f32> {
    let source = |o: usize, input: usize, output: usize| {
        let at = ((o as f64 + 0.5) * input as f64 / output as f64 - 0.5).max(0.0);
        let low = (at.floor() as usize).min(input - 1);
        (low, (low + 1).min(input - 1), at - low as f64)
    };
    let mut out = Vec::with_capacity(oh * ow);
    for oy in 0..oh {
        let (y0, y1, ty) = source(oy, h, oh);
        for ox in 0..ow {
            let (x0, x1, tx) = source(ox, w, ow);
            let at = |y: usize, x: usize| f64::from(img[y * w + x]);
            let top = at(y0, x0) * (1.0 - tx) + at(y0, x1) * tx;
            let bottom = at(y1, x0) * (1.0 - tx) + at(y1, x1) * tx;
            out.push((top * (1.0 - ty) + bottom * ty) as f32);
        }
    }
    out
}

#[test]
fn random_batches_match_the_per_pixel_reference() {
    let x = random_images((2, 3, 5, 7), 11);
    for (oh, ow) in [(6, 4), (11, 13), (1, 1), (5, 3)] {
        let out = resize_bilinear(&x, oh, ow).unwrap();
        assert_eq!(out.dims(), &[2, 3, oh, ow]);
        for (b, c) in [(0, 0), (0, 2), (1, 1)] {
            let plane = x.get(b).unwrap().get(c).unwrap().flatten_all().unwrap();
            let expected = reference_resize(&plane.to_vec1().unwrap(), (5, 7), (oh, ow));
            let found: Vec<f32> = out
                .get(b)
                .unwrap()
                .get(c)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            for (f, e) in found.iter().zip(&expected) {
                assert!(
                    (f - e).abs() <= TOLERANCE,
                    "{oh}x{ow} image {b} channel {c}"
                );
            }
        }
    }
}

#[test]
fn halving_equals_two_by_two_average_pooling() {
    let x = random_images((3, 2, 8, 6), 5);
    let down = resize_bilinear(&x, 4, 3).unwrap();
    let pooled = x.avg_pool2d(2).unwrap();
    let diff = (down - pooled).unwrap().abs().unwrap().max_all().unwrap();
    assert!(diff.to_scalar::<f32>().unwrap() <= TOLERANCE);
}

#[test]
fn the_same_size_returns_the_images_unchanged() {
    let x = random_images((2, 3, 5, 7), 1);
    let same = resize_bilinear(&x, 5, 7).unwrap();
    assert_eq!(
        same.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        x.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    );
}

#[test]
fn a_constant_image_stays_constant_at_every_size() {
    let x = Tensor::full(0.37f32, (2, 1, 28, 28), &Device::Cpu).unwrap();
    for (h, w) in [(7, 7), (13, 5), (28, 28), (40, 33), (1, 1)] {
        let out = resize_bilinear(&x, h, w).unwrap();
        let back = resize_bilinear(&out, 28, 28).unwrap();
        for t in [out, back] {
            let err = (t - 0.37).unwrap().abs().unwrap().max_all().unwrap();
            assert!(err.to_scalar::<f32>().unwrap() <= TOLERANCE, "{h}x{w}");
        }
    }
}

#[test]
fn f64_images_stay_f64() {
    let x = random_images((1, 1, 4, 4), 2).to_dtype(DType::F64).unwrap();
    let out = resize_bilinear(&x, 2, 2).unwrap();
    assert_eq!(out.dtype(), DType::F64);
}

#[test]
fn bad_arguments_are_refused() {
    let x = random_images((1, 1, 4, 4), 3);
    assert!(matches!(
        resize_bilinear(&x, 0, 4),
        Err(Error::Config { .. })
    ));
    let rank3 = x.squeeze(0).unwrap();
    assert!(matches!(
        resize_bilinear(&rank3, 2, 2),
        Err(Error::Shape { .. })
    ));
    let bytes = x.to_dtype(DType::U8).unwrap();
    assert!(matches!(
        resize_bilinear(&bytes, 2, 2),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn default_sizes_are_quarters_of_the_side() {
    assert_eq!(default_sizes(28), vec![7, 14, 21, 28]);
    assert_eq!(default_sizes(32), vec![8, 16, 24, 32]);
    assert_eq!(default_sizes(2), vec![1, 2]);
}

/// A classifier of 4x4 grey images with fixed weights: a 1x1 convolution that passes the
/// image through, ReLU, a hidden unit that averages the 16 pixels, ReLU, and logits
/// `(0.3 - h, h - 0.3)`. It says class 1 exactly when the mean of the positive pixels is
/// above 0.3.
fn brightness_classifier() -> Classifier {
    let config = ClassifierConfig {
        num_classes: 2,
        image_channels: 1,
        image_size: 4,
        layers: vec![ConvLayer {
            out_channels: 1,
            stride: 1,
        }],
        kernel_size: 1,
        hidden: 1,
        dropout: 0.0,
        batch_norm: None,
        input_range: ValueRange::MinusOneToOne,
    };
    let dev = Device::Cpu;
    let t = |v: &[f32], shape: &[usize]| Tensor::from_slice(v, shape, &dev).unwrap();
    let weights = HashMap::from([
        ("conv0.weight".to_string(), t(&[1.0], &[1, 1, 1, 1])),
        ("conv0.bias".to_string(), t(&[0.0], &[1])),
        ("hidden.weight".to_string(), t(&[1.0 / 16.0; 16], &[1, 16])),
        ("hidden.bias".to_string(), t(&[0.0], &[1])),
        ("output.weight".to_string(), t(&[-1.0, 1.0], &[2, 1])),
        ("output.bias".to_string(), t(&[0.3, -0.3], &[2])),
    ]);
    let vb = VarBuilder::from_tensors(weights, DType::F32, &dev);
    Classifier::new(&config, vb).unwrap()
}

#[test]
fn the_curve_follows_what_survives_each_size() {
    // Class 1: a checkerboard of +1 and -1 (positive mean 0.5 > 0.3). Halving averages each
    // 2x2 block to 0, and so does the 1x1 size (it reads the mean of the central 2x2 block),
    // so the class-1 images become all 0 and are called class 0. Class 0: all -1, which
    // stays -1 at every size and is always called class 0.
    let board: Vec<f32> = (0..16)
        .map(|i| if (i / 4 + i % 4) % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let board = Tensor::from_vec(board, (1, 1, 4, 4), &Device::Cpu).unwrap();
    let dark = Tensor::full(-1f32, (1, 1, 4, 4), &Device::Cpu).unwrap();
    let images = Tensor::cat(&[&board, &dark, &board, &dark, &dark], 0).unwrap();
    let labels = Tensor::new(&[1u32, 0, 1, 0, 0], &Device::Cpu).unwrap();
    let classifier = brightness_classifier();
    let curve = accuracy_by_resolution(
        &classifier,
        &images,
        &labels,
        ValueRange::MinusOneToOne,
        &[1, 2, 4],
    )
    .unwrap();
    let found: Vec<(usize, f64, Vec<f64>)> = curve
        .into_iter()
        .map(|p| (p.size, p.accuracy, p.per_class))
        .collect();
    assert_eq!(
        found,
        vec![
            (1, 0.6, vec![1.0, 0.0]),
            (2, 0.6, vec![1.0, 0.0]),
            (4, 1.0, vec![1.0, 1.0])
        ]
    );
    // The same images in [0, 1] give the same curve.
    let unit = ((&images + 1.0).unwrap() * 0.5).unwrap();
    let again = accuracy_by_resolution(
        &classifier,
        &unit,
        &labels,
        ValueRange::ZeroToOne,
        &[1, 2, 4],
    )
    .unwrap();
    let accuracies: Vec<f64> = again.iter().map(|p| p.accuracy).collect();
    assert_eq!(accuracies, vec![0.6, 0.6, 1.0]);
}

#[test]
fn the_curve_refuses_a_zero_size_and_values_outside_the_range() {
    let classifier = brightness_classifier();
    let images = Tensor::full(0.5f32, (2, 1, 4, 4), &Device::Cpu).unwrap();
    let labels = Tensor::new(&[0u32, 1], &Device::Cpu).unwrap();
    let range = ValueRange::MinusOneToOne;
    let zero = accuracy_by_resolution(&classifier, &images, &labels, range, &[0]);
    assert!(matches!(zero, Err(Error::Config { .. })));
    let bright = (&images * 4.0).unwrap();
    let outside = accuracy_by_resolution(&classifier, &bright, &labels, range, &[2]);
    assert!(outside.unwrap_err().to_string().contains("from 2 to 2"));
}

#[test]
fn real_digits_lose_accuracy_at_low_resolution() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist-5k");
    let data = acgan::data::idx::load_mnist_dir(dir, 10, &Device::Cpu).unwrap();
    let n = 1000;
    let training = ClassifierTraining {
        epochs: 8,
        max_shift: 0,
        data: "mnist-5k train, first 1000".into(),
        ..ClassifierTraining::mnist_subset()
    };
    let images = data.train_images.narrow(0, 0, n).unwrap();
    let labels = data.train_labels.narrow(0, 0, n).unwrap();
    let config = ClassifierConfig::mnist();
    let classifier = train_classifier(&config, &images, &labels, &training, |_| {}).unwrap();
    let range = ValueRange::MinusOneToOne;
    let (test, test_labels) = (&data.test_images, &data.test_labels);
    let curve =
        accuracy_by_resolution(&classifier, test, test_labels, range, &default_sizes(28)).unwrap();
    let full = classifier
        .accuracy(test, test_labels, range, "mnist-5k t10k")
        .unwrap();
    let points: Vec<(usize, f64)> = curve.iter().map(|p| (p.size, p.accuracy)).collect();
    eprintln!("accuracy by size: {points:?}");
    assert_eq!(curve.last().map(|p| p.accuracy), Some(full.overall));
    assert!(full.overall > 0.8, "full-size accuracy {}", full.overall);
    assert!(
        curve[0].accuracy < full.overall - 0.05,
        "7x7 {} vs 28x28 {}",
        curve[0].accuracy,
        full.overall
    );
}
