//! Inception Score and Frechet distance, computed from any classifier's class probabilities
//! and features.
//!
//! The paper's scores used Inception on ImageNet-like images; for MNIST and CIFAR-10 a
//! classifier trained on the data set is the usual stand-in. [`FeatureModel`] is the seam:
//! the crate's classifier implements it, and so can any other network.
//!
//! Both scores are computed on the host in f64.
//!
//! # Example
//! ```
//! use acgan::eval::scores::{frechet_distance_from_features, inception_score, FeatureModel};
//! use candle_core::{Device, Tensor};
//!
//! /// A stand-in "network": two classes, and the mean pixel as its single feature.
//! struct MeanPixel;
//!
//! impl FeatureModel for MeanPixel {
//!     fn probabilities(&self, images: &Tensor) -> acgan::Result<Tensor> {
//!         let p = self.features(images)?.affine(0.25, 0.5)?;
//!         Ok(Tensor::cat(&[&p, &(1.0 - &p)?], 1)?)
//!     }
//!     fn features(&self, images: &Tensor) -> acgan::Result<Tensor> {
//!         Ok(images.flatten_from(1)?.mean_keepdim(1)?)
//!     }
//! }
//!
//! # fn main() -> acgan::Result<()> {
//! let real = Tensor::randn(0f32, 0.5, (64, 1, 8, 8), &Device::Cpu)?.clamp(-1f32, 1f32)?;
//! let fake = Tensor::randn(0.3f32, 0.5, (64, 1, 8, 8), &Device::Cpu)?.clamp(-1f32, 1f32)?;
//! let model = MeanPixel;
//! let is = inception_score(&model.probabilities(&fake)?, 10)?;
//! assert!(is.mean >= 1.0 && is.mean <= 2.0);
//! let fd = frechet_distance_from_features(&model.features(&real)?, &model.features(&fake)?)?;
//! assert!(fd >= 0.0);
//! # Ok(())
//! # }
//! ```

use candle_core::{DType, Tensor, D};
use nalgebra::{DMatrix, SymmetricEigen};

use crate::{Error, Result};

/// A network that scores images: class probabilities for the Inception Score, features for
/// the Frechet distance.
///
/// Implement it for any classifier to compute both scores with it. Implementations take
/// images in the crate's convention, `(n, channels, height, width)` in [-1, 1], and may
/// resize or renormalise them as the network requires.
pub trait FeatureModel {
    /// Class probabilities, each row non-negative and summing to 1 (a softmax, not logits).
    ///
    /// # Shapes
    /// - `images`: `(n, channels, height, width)`
    /// - returns `(n, classes)`
    fn probabilities(&self, images: &Tensor) -> Result<Tensor>;

    /// Features, usually the activations of the layer before the classifier head.
    ///
    /// # Shapes
    /// - `images`: `(n, channels, height, width)`
    /// - returns `(n, features)`
    fn features(&self, images: &Tensor) -> Result<Tensor>;
}

/// The Inception Score of a set of predictions, over contiguous splits.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InceptionScore {
    /// The mean of the split scores.
    pub mean: f64,
    /// The population standard deviation (ddof 0) of the split scores.
    pub std: f64,
    /// `exp(mean_x KL(p(y|x) || p(y)))` for each split, in order.
    pub split_scores: Vec<f64>,
}

/// How far a row of probabilities may sum from 1.
const ROW_SUM_TOLERANCE: f64 = 1e-3;

/// The Inception Score (Salimans et al., 2016) of `p_yx`, one row of class probabilities per
/// image.
///
/// The rows are cut into `splits` contiguous groups, split `i` holding rows
/// `floor(i n / splits)` to `floor((i + 1) n / splits)` (no shuffling; 10 splits is the
/// custom). Each split scores `exp(mean_x KL(p(y|x) || p(y)))` with `p(y)` the mean of its
/// rows and `0 log 0 = 0`. A score lies between 1 (every row the same) and the number of
/// classes (confident predictions spread evenly over the classes).
///
/// Rows must be non-negative and sum to 1 within 1e-3: pass a softmax, not logits.
///
/// # Shapes
/// - `p_yx`: `(n, classes)` of any float dtype, with `1 <= splits <= n`
pub fn inception_score(p_yx: &Tensor, splits: usize) -> Result<InceptionScore> {
    let rows = probability_rows(p_yx)?;
    let n = rows.len();
    if splits == 0 || splits > n {
        return Err(Error::config(
            "inception_score splits",
            format!("{splits} splits of {n} rows: need 1 <= splits <= {n}"),
        ));
    }
    let split_scores: Vec<f64> = (0..splits)
        .map(|i| split_score(&rows[i * n / splits..(i + 1) * n / splits]))
        .collect();
    let mean = split_scores.iter().sum::<f64>() / splits as f64;
    let variance = split_scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / splits as f64;
    Ok(InceptionScore {
        mean,
        std: variance.sqrt(),
        split_scores,
    })
}

/// Reads `p_yx` to the host and checks it holds probability rows.
fn probability_rows(p_yx: &Tensor) -> Result<Vec<Vec<f64>>> {
    match p_yx.dims() {
        &[n, classes] if n > 0 && classes > 0 && p_yx.dtype().is_float() => {}
        _ => {
            return Err(Error::Shape {
                argument: "inception_score p_yx".into(),
                expected: "(n, classes) float with n, classes >= 1".into(),
                found: p_yx.dims().to_vec(),
                dtype: p_yx.dtype(),
            })
        }
    }
    let rows = p_yx.to_dtype(DType::F64)?.to_vec2::<f64>()?;
    for (i, row) in rows.iter().enumerate() {
        let sum: f64 = row.iter().sum();
        if row.iter().any(|p| !(p.is_finite() && *p >= 0.0))
            || (sum - 1.0).abs() > ROW_SUM_TOLERANCE
        {
            return Err(Error::config(
                "inception_score p_yx",
                format!(
                    "row {i} is not a probability distribution (sum {sum}, min {}): pass \
                     softmax probabilities, not logits",
                    row.iter().copied().fold(f64::INFINITY, f64::min)
                ),
            ));
        }
    }
    Ok(rows)
}

/// `exp(mean_x KL(p(y|x) || p(y)))` over one split's rows.
fn split_score(rows: &[Vec<f64>]) -> f64 {
    let classes = rows[0].len();
    let count = rows.len() as f64;
    let p_y: Vec<f64> = (0..classes)
        .map(|c| rows.iter().map(|r| r[c]).sum::<f64>() / count)
        .collect();
    let kl = |row: &Vec<f64>| -> f64 {
        row.iter()
            .zip(&p_y)
            .filter(|(p, _)| **p > 0.0)
            .map(|(p, q)| p * (p / q).ln())
            .sum()
    };
    (rows.iter().map(kl).sum::<f64>() / count).exp()
}

/// The mean and sample covariance (ddof 1) of a set of features, one row per image: the
/// Gaussian that [`frechet_distance`] compares.
///
/// The products run on the tensor's device in f64.
///
/// # Shapes
/// - `features`: `(n, d)` of any float dtype, `n >= 2`
/// - returns the mean (`d` values) and the covariance (`d` rows of `d`)
pub fn mean_and_covariance(features: &Tensor) -> Result<(Vec<f64>, Vec<Vec<f64>>)> {
    let n = match features.dims() {
        &[n, d] if n >= 2 && d >= 1 && features.dtype().is_float() => n,
        _ => {
            return Err(Error::Shape {
                argument: "mean_and_covariance features".into(),
                expected: "(n, d) float with n >= 2 and d >= 1".into(),
                found: features.dims().to_vec(),
                dtype: features.dtype(),
            })
        }
    };
    let x = features.to_dtype(DType::F64)?;
    let mean = x.mean_keepdim(0)?;
    let centred = x.broadcast_sub(&mean)?;
    let covariance = (centred.t()?.matmul(&centred)? / (n - 1) as f64)?;
    Ok((mean.squeeze(0)?.to_vec1()?, covariance.to_vec2()?))
}

/// The Frechet distance between the Gaussians fitted to two sets of features (FID when the
/// features are Inception's pool layer).
///
/// # Shapes
/// - `a`, `b`: `(n_a, d)` and `(n_b, d)` of any float dtype, each with at least 2 rows
pub fn frechet_distance_from_features(a: &Tensor, b: &Tensor) -> Result<f64> {
    if a.dim(D::Minus1).ok() != b.dim(D::Minus1).ok() || b.rank() != 2 {
        return Err(Error::Shape {
            argument: "frechet_distance_from_features b".into(),
            expected: format!("(n, d) with the features of a, {:?}", a.dims()),
            found: b.dims().to_vec(),
            dtype: b.dtype(),
        });
    }
    let (mu_a, sigma_a) = mean_and_covariance(a)?;
    let (mu_b, sigma_b) = mean_and_covariance(b)?;
    frechet_distance(&mu_a, &sigma_a, &mu_b, &sigma_b)
}

/// How far a covariance may be from symmetric, relative to its largest entry.
const SYMMETRY_TOLERANCE: f64 = 1e-4;

/// The Frechet distance between the Gaussians `N(mu1, sigma1)` and `N(mu2, sigma2)`:
/// `|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2))`.
///
/// The trace of the square root comes from symmetric eigendecompositions: with
/// `sigma1 = V L V^T`, the symmetric matrix `L^(1/2) V^T sigma2 V L^(1/2)` has the eigenvalues
/// of `sigma1 sigma2`, and the trace is the sum of their square roots. Eigenvalues that
/// round-off leaves below zero count as zero, so singular covariances (fewer images than
/// features) need no offset, and the result is clamped at 0. pytorch-fid's route, a general
/// matrix square root with an `eps` offset retried on failure, agrees with this one to
/// round-off on well-conditioned covariances (the reference vectors' `fd` and `fd_eig` differ
/// by 1e-13 relative); on singular ones it differs by about the offset. This function gives
/// the eigendecomposition value.
///
/// Covariances are given as rows and must be symmetric (within 1e-4 of their largest entry;
/// they are symmetrised) with finite entries.
///
/// # Cost
/// Two eigendecompositions of `d x d` matrices on the host, `O(d^3)`: milliseconds for
/// `d = 128`, about half a second for 512, and tens of seconds for Inception's 2048 on a
/// 2-core machine.
pub fn frechet_distance(
    mu1: &[f64],
    sigma1: &[Vec<f64>],
    mu2: &[f64],
    sigma2: &[Vec<f64>],
) -> Result<f64> {
    let d = mu1.len();
    if d == 0 || mu2.len() != d {
        return Err(fd_error(format!(
            "mu1 has {d} values and mu2 {}: need the same number, at least 1",
            mu2.len()
        )));
    }
    check_finite("mu1", mu1)?;
    check_finite("mu2", mu2)?;
    let s1 = symmetric("sigma1", sigma1, d)?;
    let s2 = symmetric("sigma2", sigma2, d)?;
    let mean_term: f64 = mu1.iter().zip(mu2).map(|(a, b)| (a - b).powi(2)).sum();
    let root_trace = trace_of_sqrt_product(s1.clone(), &s2)?;
    Ok((mean_term + s1.trace() + s2.trace() - 2.0 * root_trace).max(0.0))
}

/// `tr((s1 s2)^(1/2))` for symmetric positive semi-definite `s1`, `s2`.
fn trace_of_sqrt_product(s1: DMatrix<f64>, s2: &DMatrix<f64>) -> Result<f64> {
    let max_iterations = 1000 + 100 * s1.nrows();
    let eig1 = SymmetricEigen::try_new(s1, f64::EPSILON, max_iterations)
        .ok_or_else(|| fd_error("the symmetric eigendecomposition of sigma1 did not converge"))?;
    let roots = eig1.eigenvalues.map(|l| l.max(0.0).sqrt());
    let rotated = eig1.eigenvectors.transpose() * s2 * &eig1.eigenvectors;
    let inner = DMatrix::from_fn(roots.len(), roots.len(), |i, j| {
        roots[i] * rotated[(i, j)] * roots[j]
    });
    let inner = (&inner + inner.transpose()) * 0.5;
    if inner.iter().any(|v| !v.is_finite()) {
        return Err(fd_error(
            "a covariance product overflowed; rescale the features",
        ));
    }
    // Finite and symmetric, so the eigenvalue iteration converges.
    let eigenvalues = inner.symmetric_eigenvalues();
    Ok(eigenvalues.iter().map(|l| l.max(0.0).sqrt()).sum())
}

/// Checks `rows` is a finite symmetric `d x d` matrix and returns its symmetric part.
fn symmetric(name: &str, rows: &[Vec<f64>], d: usize) -> Result<DMatrix<f64>> {
    if rows.len() != d || rows.iter().any(|r| r.len() != d) {
        let found: Vec<usize> = rows.iter().map(Vec::len).collect();
        return Err(fd_error(format!(
            "{name} must be {d} rows of {d} like the mean; found rows of lengths {found:?}"
        )));
    }
    let m = DMatrix::from_fn(d, d, |i, j| rows[i][j]);
    check_finite(name, m.as_slice())?;
    let asymmetry = (&m - m.transpose()).amax();
    if asymmetry > SYMMETRY_TOLERANCE * m.amax() {
        return Err(fd_error(format!(
            "{name} is not symmetric: entries differ from their transposes by up to {asymmetry}"
        )));
    }
    Ok((&m + m.transpose()) * 0.5)
}

fn check_finite(name: &str, values: &[f64]) -> Result<()> {
    match values.iter().find(|v| !v.is_finite()) {
        Some(v) => Err(fd_error(format!("{name} holds {v}"))),
        None => Ok(()),
    }
}

fn fd_error(message: impl Into<String>) -> Error {
    Error::config("frechet_distance input", message)
}
