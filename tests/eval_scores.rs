//! Inception Score and Frechet distance against `tests/fixtures/vectors/inception_score.json`
//! and `frechet_distance.json`, copies of the project's shared reference values (computed in
//! f64 by an independent NumPy/SciPy implementation that agrees with torch-fidelity and
//! pytorch-fid; see the README beside them), and against closed forms.

use std::path::Path;

use acgan::eval::scores::{
    frechet_distance, frechet_distance_from_features, inception_score, mean_and_covariance,
    FeatureModel,
};
use acgan::Error;
use candle_core::{Device, Tensor};
use serde_json::Value;

/// Relative to max(1, |expected|), as the vectors' README asks.
const TOLERANCE: f64 = 1e-4;

fn cases(file: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vectors")
        .join(file);
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["cases"].as_array().unwrap().clone()
}

fn close(found: f64, expected: f64, what: &str) {
    let scale = expected.abs().max(1.0);
    assert!(
        (found - expected).abs() <= TOLERANCE * scale,
        "{what}: found {found}, expected {expected}"
    );
}

fn vector(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn matrix(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(vector).collect()
}

fn tensor(rows: &[Vec<f64>]) -> Tensor {
    Tensor::new(rows.to_vec(), &Device::Cpu).unwrap()
}

#[test]
fn every_inception_score_case_matches() {
    let cases = cases("inception_score.json");
    assert_eq!(
        cases.len(),
        4,
        "a case was added or removed: review this test"
    );
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let p_yx = tensor(&matrix(&case["p_yx"]));
        let splits = case["splits"].as_u64().unwrap() as usize;
        let score = inception_score(&p_yx, splits).unwrap();
        let expected = &case["expected"];
        close(score.mean, expected["mean"].as_f64().unwrap(), id);
        close(score.std, expected["std"].as_f64().unwrap(), id);
        let split_scores = vector(&expected["split_scores"]);
        assert_eq!(score.split_scores.len(), split_scores.len(), "{id}");
        for (found, expected) in score.split_scores.iter().zip(split_scores) {
            close(*found, expected, id);
        }
    }
}

/// `n` one-hot rows cycling through `classes` classes.
fn confident(n: usize, classes: usize) -> Tensor {
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..classes)
                .map(|c| f64::from(u8::from(c == i % classes)))
                .collect()
        })
        .collect();
    tensor(&rows)
}

#[test]
fn confident_predictions_spread_evenly_over_k_classes_score_k() {
    for (n, classes, splits) in [(70, 7, 10), (30, 3, 1), (40, 10, 4)] {
        let score = inception_score(&confident(n, classes), splits).unwrap();
        close(score.mean, classes as f64, "mean");
        close(score.std, 0.0, "std");
    }
}

#[test]
fn a_constant_prediction_scores_one() {
    let rows = vec![vec![0.2, 0.5, 0.3]; 25];
    let score = inception_score(&tensor(&rows), 10).unwrap();
    close(score.mean, 1.0, "mean");
    close(score.std, 0.0, "std");
}

#[test]
fn splits_are_contiguous_with_floor_boundaries() {
    // 10 rows, 4 splits: rows 0..2, 2..5, 5..7, 7..10. Split 1 holds classes 2, 3, 4 once
    // each, so it scores 3 whatever its neighbours hold.
    let score = inception_score(&confident(10, 10), 4).unwrap();
    let expected = [2.0, 3.0, 2.0, 3.0];
    for (found, expected) in score.split_scores.iter().zip(expected) {
        close(*found, expected, "split");
    }
}

#[test]
fn splits_beyond_the_rows_are_refused() {
    let p = confident(5, 5);
    for splits in [0, 6] {
        assert!(matches!(
            inception_score(&p, splits),
            Err(Error::Config { .. })
        ));
    }
}

#[test]
fn logits_and_negative_values_are_refused() {
    let logits = tensor(&[vec![2.0, -1.0, 0.5], vec![0.1, 0.2, 0.3]]);
    let message = inception_score(&logits, 1).unwrap_err().to_string();
    assert!(
        message.contains("row 0") && message.contains("logits"),
        "{message}"
    );
    let negative = tensor(&[vec![1.2, -0.2], vec![0.5, 0.5]]);
    assert!(matches!(
        inception_score(&negative, 1),
        Err(Error::Config { .. })
    ));
    let flat = Tensor::new(&[0.5f32, 0.5], &Device::Cpu).unwrap();
    assert!(matches!(
        inception_score(&flat, 1),
        Err(Error::Shape { .. })
    ));
}

fn fd_of(case: &Value) -> f64 {
    frechet_distance(
        &vector(&case["mu1"]),
        &matrix(&case["sigma1"]),
        &vector(&case["mu2"]),
        &matrix(&case["sigma2"]),
    )
    .unwrap()
}

#[test]
fn every_frechet_distance_case_matches_both_routes() {
    let cases = cases("frechet_distance.json");
    assert_eq!(
        cases.len(),
        5,
        "a case was added or removed: review this test"
    );
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let found = fd_of(&case);
        close(found, case["expected"]["fd_eig"].as_f64().unwrap(), id);
        close(found, case["expected"]["fd"].as_f64().unwrap(), id);
    }
}

#[test]
fn activations_give_the_cases_means_covariances_and_distance() {
    let case = cases("frechet_distance.json")
        .into_iter()
        .find(|c| c["id"] == "from_activations_d6")
        .unwrap();
    let (a, b) = (
        tensor(&matrix(&case["act1"])),
        tensor(&matrix(&case["act2"])),
    );
    for (features, mu, sigma) in [(&a, "mu1", "sigma1"), (&b, "mu2", "sigma2")] {
        let (mean, covariance) = mean_and_covariance(features).unwrap();
        for (found, expected) in mean.iter().zip(vector(&case[mu])) {
            close(*found, expected, mu);
        }
        for (row, expected) in covariance.iter().zip(matrix(&case[sigma])) {
            row.iter()
                .zip(expected)
                .for_each(|(f, e)| close(*f, e, sigma));
        }
    }
    let fd = frechet_distance_from_features(&a, &b).unwrap();
    close(
        fd,
        case["expected"]["fd_eig"].as_f64().unwrap(),
        "from features",
    );
}

/// A symmetric positive definite `d x d` matrix, `B B^T + I` for a fixed `B`.
fn spd(d: usize, seed: f64) -> Vec<Vec<f64>> {
    let b = |i: usize, j: usize| ((i * 7 + j * 3) as f64 * seed).sin();
    (0..d)
        .map(|i| {
            (0..d)
                .map(|j| {
                    (0..d).map(|k| b(i, k) * b(j, k)).sum::<f64>() + f64::from(u8::from(i == j))
                })
                .collect()
        })
        .collect()
}

#[test]
fn identical_gaussians_are_at_distance_zero() {
    let (mu, sigma) = (vec![0.3, -1.0, 2.0, 0.0, 5.0], spd(5, 0.37));
    close(
        frechet_distance(&mu, &sigma, &mu, &sigma).unwrap(),
        0.0,
        "identical",
    );
}

#[test]
fn shifting_the_mean_adds_the_squared_shift() {
    let sigma = spd(6, 0.91);
    let mu1 = vec![0.0; 6];
    let mu2 = vec![1.0, -2.0, 0.5, 0.0, 0.0, 3.0];
    let squared: f64 = mu2.iter().map(|v| v * v).sum();
    close(
        frechet_distance(&mu1, &sigma, &mu2, &sigma).unwrap(),
        squared,
        "shift",
    );
}

#[test]
fn the_distance_is_symmetric() {
    let (s1, s2) = (spd(4, 0.5), spd(4, 1.3));
    let (m1, m2) = (vec![1.0, 2.0, 3.0, 4.0], vec![0.0, 2.5, 3.0, -1.0]);
    let ab = frechet_distance(&m1, &s1, &m2, &s2).unwrap();
    let ba = frechet_distance(&m2, &s2, &m1, &s1).unwrap();
    assert!((ab - ba).abs() < 1e-9 * ab.max(1.0), "{ab} vs {ba}");
}

#[test]
fn singular_covariances_from_fewer_samples_than_features_give_a_finite_distance() {
    let rows = |offset: f64| -> Vec<Vec<f64>> {
        (0..4)
            .map(|i| {
                (0..8)
                    .map(|j| ((i * 8 + j) as f64 + offset).cos())
                    .collect()
            })
            .collect()
    };
    let (a, b) = (tensor(&rows(0.0)), tensor(&rows(0.4)));
    let fd = frechet_distance_from_features(&a, &b).unwrap();
    assert!(fd.is_finite() && fd >= 0.0, "{fd}");
    close(
        frechet_distance_from_features(&a, &a).unwrap(),
        0.0,
        "same features",
    );
}

#[test]
fn malformed_gaussians_are_refused() {
    let sigma = spd(3, 0.2);
    let mu = vec![0.0; 3];
    let asymmetric = vec![
        vec![1.0, 0.5, 0.0],
        vec![0.0, 1.0, 0.0],
        vec![0.0, 0.0, 1.0],
    ];
    let mut with_nan = sigma.clone();
    with_nan[1][1] = f64::NAN;
    let short_mean = vec![0.0; 2];
    for (m2, s2) in [(&mu, &asymmetric), (&mu, &with_nan), (&short_mean, &sigma)] {
        let result = frechet_distance(&mu, &sigma, m2, s2);
        assert!(matches!(result, Err(Error::Config { .. })), "{result:?}");
    }
    let one_row = Tensor::zeros((1, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert!(matches!(
        mean_and_covariance(&one_row),
        Err(Error::Shape { .. })
    ));
}

/// A model reduced to a fixed linear map: features are the mean of each image row, and the
/// probabilities a softmax of them.
struct RowMeans;

impl FeatureModel for RowMeans {
    fn probabilities(&self, images: &Tensor) -> acgan::Result<Tensor> {
        Ok(candle_nn::ops::softmax_last_dim(&self.features(images)?)?)
    }

    fn features(&self, images: &Tensor) -> acgan::Result<Tensor> {
        Ok(images.mean(3)?.flatten_from(1)?)
    }
}

#[test]
fn any_model_can_be_plugged_in_through_the_trait() {
    let model: &dyn FeatureModel = &RowMeans;
    let images = Tensor::randn(0f32, 1.0, (20, 1, 4, 6), &Device::Cpu).unwrap();
    let score = inception_score(&model.probabilities(&images).unwrap(), 10).unwrap();
    assert!(score.mean >= 1.0 && score.mean <= 4.0, "{score:?}");
    let features = model.features(&images).unwrap();
    close(
        frechet_distance_from_features(&features, &features).unwrap(),
        0.0,
        "self",
    );
}
