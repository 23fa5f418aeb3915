//! SSIM and multi-scale SSIM (MS-SSIM) between pairs of images, the measure the paper uses for
//! the diversity of a class's samples (lower mean MS-SSIM between samples is more diverse).
//!
//! The default is the reference formulation of Wang, Simoncelli and Bovik ("Multi-scale
//! structural similarity for image quality assessment", 2003), with the conventions that
//! most implementations share:
//!
//! - an 11x11 Gaussian window of sigma 1.5, built from a 1-D kernel normalised to sum 1 in
//!   f64 and applied separably, with valid filtering (no padding);
//! - weighted population moments, `C1 = (k1 L)^2` and `C2 = (k2 L)^2` for the data range `L`;
//! - between scales, 2x2 means of pixel pairs (0, 1), (2, 3), ..., an odd last row or column
//!   paired with itself, so a side of `n` becomes `ceil(n / 2)`;
//! - `MS-SSIM = prod_{s < M} relu(CS_s)^w_s * relu(SSIM_M)^w_M`;
//! - every channel on its own, then the mean over channels.
//!
//! Computation is on the host in f64 whatever the tensors' device and dtype.
//!
//! # Small images
//! The five standard scales need a side of at least 161 pixels, more than MNIST (28) or
//! CIFAR-10 (32) offer. [`SmallImages`] chooses what to do: keep the window and use fewer
//! scales (the default), shrink the window, or refuse.
//!
//! # Inputs must be non-negative
//! The luminance term is not invariant to an offset, so images in [-1, 1] fed as they are give
//! other values than the same images in [0, 1]. [`ssim`] and [`ms_ssim`] refuse negative
//! pixels; [`ms_ssim_from_generator_range`] maps generator output to [0, 1] first.
//!
//! # Conventions not offered
//! Other implementations differ in ways this module does not reproduce: pytorch_msssim's and
//! piq's handling of odd sizes when downsampling, averaging SSIM and CS over channels at each
//! scale before combining them (TensorFlow's `msssim.py`, PGGAN, torchmetrics), and
//! `(v + 1) / 2` in place of relu for negative terms. On images of at least 161 pixels, whose
//! sides stay even down to the last scale, the first two agree with the default; the others
//! differ slightly. Each would be one more variant of a config field.

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// What [`ms_ssim`] does when an image is too small for every scale of
/// [`SsimConfig::weights`] at full window size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SmallImages {
    /// Keep the window and use only the leading scales whose sides are at least the window,
    /// with their weights rescaled to sum 1: two scales at 28 and 32 pixels, four at 128. From
    /// 161 pixels up all five scales fit and the weights are used as given (the standard five
    /// sum to 1.0001). Images smaller than the window are refused.
    #[default]
    Truncate,
    /// Use every scale, shrinking the window at each to `min(window, height, width)` and keeping
    /// sigma (the convention of google/compare_gan).
    ClampWindow,
    /// Use every scale, shrinking the window as [`SmallImages::ClampWindow`] does and scaling
    /// sigma by the same factor (TensorFlow's `msssim.py`, as used for PGGAN).
    ClampWindowScaledSigma,
    /// Refuse images too small for every scale at full window size (161 pixels for the
    /// standard window and five scales).
    Strict,
}

/// Parameters of [`ssim`] and [`ms_ssim`].
///
/// The defaults are those of Wang, Simoncelli and Bovik (2003): window 11, sigma 1.5,
/// `k1 = 0.01`, `k2 = 0.03`, scale weights `[0.0448, 0.2856, 0.3001, 0.2363, 0.1333]`, with a
/// data range of 1 for images in [0, 1].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SsimConfig {
    /// Side of the square Gaussian window, in pixels.
    pub window: usize,
    /// Standard deviation of the Gaussian window, in pixels.
    pub sigma: f64,
    /// Luminance stabiliser: `C1 = (k1 * data_range)^2`.
    pub k1: f64,
    /// Contrast stabiliser: `C2 = (k2 * data_range)^2`.
    pub k2: f64,
    /// The span of pixel values: 1 for [0, 1], 255 for 8-bit integers.
    pub data_range: f64,
    /// One weight per MS-SSIM scale, finest first; their number is the number of scales.
    pub weights: Vec<f64>,
    /// What MS-SSIM does with images too small for every scale.
    pub small_images: SmallImages,
}

impl Default for SsimConfig {
    fn default() -> Self {
        Self {
            window: 11,
            sigma: 1.5,
            k1: 0.01,
            k2: 0.03,
            data_range: 1.0,
            weights: vec![0.0448, 0.2856, 0.3001, 0.2363, 0.1333],
            small_images: SmallImages::Truncate,
        }
    }
}

impl SsimConfig {
    /// Checks every field is in its valid range.
    pub fn check(&self) -> Result<()> {
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::config(
                    "SsimConfig",
                    format!("{name} is {v}, must be > 0"),
                ))
            }
        };
        if self.window == 0 {
            return Err(Error::config("SsimConfig", "window is 0, must be >= 1"));
        }
        positive("sigma", self.sigma)?;
        positive("k1", self.k1)?;
        positive("k2", self.k2)?;
        positive("data_range", self.data_range)?;
        if self.weights.is_empty() {
            return Err(Error::config(
                "SsimConfig",
                "weights is empty: give one per scale",
            ));
        }
        for (i, &w) in self.weights.iter().enumerate() {
            positive(&format!("weights[{i}]"), w)?;
        }
        Ok(())
    }

    /// The smallest side that the scales of [`SsimConfig::weights`] admit at full window size.
    pub fn min_side_for_all_scales(&self) -> usize {
        let halvings = self.weights.len().saturating_sub(1) as u32;
        let factor = 1usize.checked_shl(halvings).unwrap_or(usize::MAX);
        self.window
            .saturating_sub(1)
            .saturating_mul(factor)
            .saturating_add(1)
    }

    fn constants(&self) -> Constants {
        Constants {
            c1: (self.k1 * self.data_range).powi(2),
            c2: (self.k2 * self.data_range).powi(2),
        }
    }
}

/// The SSIM of each pair `(a[i], b[i])`, at full resolution.
///
/// Each channel's SSIM map is averaged, then the channels are averaged. Values lie in
/// [-1, 1]; 1 means identical images.
///
/// # Shapes
/// - `a`, `b`: `(batch, channels, height, width)` of any dtype, the same shape, with
///   non-negative values and sides at least [`SsimConfig::window`]
/// - returns `batch` values
pub fn ssim(a: &Tensor, b: &Tensor, config: &SsimConfig) -> Result<Vec<f64>> {
    config.check()?;
    let pair = Pair::read("ssim", a, b)?;
    pair.check_range("ssim", (0.0, f64::INFINITY), NON_NEGATIVE)?;
    if pair.height.min(pair.width) < config.window {
        return Err(pair.too_small("ssim", config.window, "the window"));
    }
    let window = gaussian(config.window, config.sigma);
    let constants = config.constants();
    Ok(pair.per_pair(|x, y| scale_stats(x, y, pair.height, pair.width, &window, constants).ssim))
}

/// The MS-SSIM of each pair `(a[i], b[i])`.
///
/// Each channel's MS-SSIM is computed, then the channels are averaged. Values lie in [0, 1];
/// 1 means identical images. [`SsimConfig::small_images`] chooses the scales for images
/// smaller than 161 pixels.
///
/// # Shapes
/// - `a`, `b`: `(batch, channels, height, width)` of any dtype, the same shape, with
///   non-negative values
/// - returns `batch` values
pub fn ms_ssim(a: &Tensor, b: &Tensor, config: &SsimConfig) -> Result<Vec<f64>> {
    config.check()?;
    let pair = Pair::read("ms_ssim", a, b)?;
    pair.check_range("ms_ssim", (0.0, f64::INFINITY), NON_NEGATIVE)?;
    ms_ssim_pair(&pair, config, "ms_ssim")
}

/// The MS-SSIM of each pair of generator outputs, mapped from [-1, 1] to [0, 1] by
/// `(x + 1) / 2` and compared with a data range of 1, whatever `config.data_range` says.
///
/// # Shapes
/// - `a`, `b`: `(batch, channels, height, width)` of any dtype, the same shape, with values
///   in [-1, 1]
/// - returns `batch` values
pub fn ms_ssim_from_generator_range(
    a: &Tensor,
    b: &Tensor,
    config: &SsimConfig,
) -> Result<Vec<f64>> {
    let name = "ms_ssim_from_generator_range";
    let config = SsimConfig {
        data_range: 1.0,
        ..config.clone()
    };
    config.check()?;
    let mut pair = Pair::read(name, a, b)?;
    let hint = "pass images in [0, data_range] to ms_ssim instead";
    pair.check_range(name, (-1.0, 1.0), hint)?;
    pair.map(|x| (x + 1.0) / 2.0);
    ms_ssim_pair(&pair, &config, name)
}

fn ms_ssim_pair(pair: &Pair, config: &SsimConfig, name: &str) -> Result<Vec<f64>> {
    let plan = plan(config, pair, name)?;
    let constants = config.constants();
    Ok(pair.per_pair(|x, y| ms_ssim_plane(x, y, pair.height, pair.width, &plan, constants)))
}

/// What to do about a negative pixel.
const NON_NEGATIVE: &str = "SSIM needs non-negative pixels: pass images in [-1, 1] to \
    ms_ssim_from_generator_range, or map them by (x + 1) / 2 and use data_range 1";

/// The stabilising constants `C1` and `C2`.
#[derive(Clone, Copy, Debug)]
struct Constants {
    c1: f64,
    c2: f64,
}

/// One scale of MS-SSIM: its 1-D window and its weight.
#[derive(Clone, Debug)]
struct Scale {
    window: Vec<f64>,
    weight: f64,
}

/// The two batches of images on the host in f64, row-major `(batch, channels, height, width)`.
struct Pair {
    a: Vec<f64>,
    b: Vec<f64>,
    dims: Vec<usize>,
    dtype: DType,
    channels: usize,
    height: usize,
    width: usize,
}

impl Pair {
    fn read(name: &str, a: &Tensor, b: &Tensor) -> Result<Self> {
        let (_, channels, height, width) = a.dims4().map_err(|_| Self::rank_error(name, a))?;
        if channels == 0 || height == 0 || width == 0 {
            return Err(Self::rank_error(name, a));
        }
        if b.dims() != a.dims() {
            return Err(Error::Shape {
                argument: format!("{name} b"),
                expected: format!("{:?} like a", a.dims()),
                found: b.dims().to_vec(),
                dtype: b.dtype(),
            });
        }
        let host = |t: &Tensor| t.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>();
        Ok(Self {
            a: host(a)?,
            b: host(b)?,
            dims: a.dims().to_vec(),
            dtype: a.dtype(),
            channels,
            height,
            width,
        })
    }

    fn rank_error(name: &str, a: &Tensor) -> Error {
        Error::Shape {
            argument: format!("{name} a"),
            expected: "(batch, channels, height, width) with channels, height, width >= 1".into(),
            found: a.dims().to_vec(),
            dtype: a.dtype(),
        }
    }

    fn too_small(&self, name: &str, side: usize, why: &str) -> Error {
        Error::Shape {
            argument: format!("{name} a"),
            expected: format!("(batch, channels, height, width) with sides >= {side} for {why}"),
            found: self.dims.clone(),
            dtype: self.dtype,
        }
    }

    /// Refuses a pixel outside `[low, high]` or not finite; `hint` says what to do instead.
    fn check_range(&self, name: &str, (low, high): (f64, f64), hint: &str) -> Result<()> {
        let bad = |v: &&f64| !(v.is_finite() && (low..=high).contains(*v));
        for (which, values) in [("a", &self.a), ("b", &self.b)] {
            if let Some(v) = values.iter().find(bad) {
                return Err(Error::config(
                    "SSIM input",
                    format!("{name} {which} holds {v}, outside [{low}, {high}]; {hint}"),
                ));
            }
        }
        Ok(())
    }

    fn map(&mut self, f: impl Fn(f64) -> f64) {
        self.a
            .iter_mut()
            .chain(self.b.iter_mut())
            .for_each(|v| *v = f(*v));
    }

    /// `f` on each channel plane of each pair, averaged over the channels.
    fn per_pair(&self, f: impl Fn(&[f64], &[f64]) -> f64) -> Vec<f64> {
        let plane = self.height * self.width;
        let image = plane * self.channels;
        let planes = |x: &[f64], y: &[f64]| {
            let sum: f64 = x
                .chunks_exact(plane)
                .zip(y.chunks_exact(plane))
                .map(|(p, q)| f(p, q))
                .sum();
            sum / self.channels as f64
        };
        self.a
            .chunks_exact(image)
            .zip(self.b.chunks_exact(image))
            .map(|(x, y)| planes(x, y))
            .collect()
    }
}

/// The scales MS-SSIM uses on images of the pair's size.
fn plan(config: &SsimConfig, pair: &Pair, name: &str) -> Result<Vec<Scale>> {
    let side = pair.height.min(pair.width);
    match config.small_images {
        SmallImages::Truncate => truncated_plan(config, side).ok_or_else(|| {
            pair.too_small(name, config.window, "the window (SmallImages::Truncate)")
        }),
        SmallImages::ClampWindow => Ok(clamped_plan(config, side, false)),
        SmallImages::ClampWindowScaledSigma => Ok(clamped_plan(config, side, true)),
        SmallImages::Strict if side < config.min_side_for_all_scales() => {
            let why = format!("{} scales (SmallImages::Strict)", config.weights.len());
            Err(pair.too_small(name, config.min_side_for_all_scales(), &why))
        }
        SmallImages::Strict => Ok(full_window(config, &config.weights)),
    }
}

/// The side of each scale, finest first, one per weight.
fn sides(config: &SsimConfig, side: usize) -> impl Iterator<Item = usize> {
    std::iter::successors(Some(side), |s| Some(s.div_ceil(2))).take(config.weights.len())
}

/// The configured window at every scale, with these weights.
fn full_window(config: &SsimConfig, weights: &[f64]) -> Vec<Scale> {
    let window = gaussian(config.window, config.sigma);
    weights
        .iter()
        .map(|&weight| Scale {
            window: window.clone(),
            weight,
        })
        .collect()
}

/// The leading scales whose side fits the window, their weights rescaled to sum 1 unless all
/// fit; `None` when not even the first fits.
fn truncated_plan(config: &SsimConfig, side: usize) -> Option<Vec<Scale>> {
    let count = sides(config, side)
        .take_while(|&s| s >= config.window)
        .count();
    let kept = &config.weights[..count];
    let total: f64 = if count == config.weights.len() {
        1.0
    } else {
        kept.iter().sum()
    };
    let weights: Vec<f64> = kept.iter().map(|w| w / total).collect();
    (count > 0).then(|| full_window(config, &weights))
}

/// Every scale, the window shrunk to the scale's side, and sigma with it when `scale_sigma`.
fn clamped_plan(config: &SsimConfig, side: usize, scale_sigma: bool) -> Vec<Scale> {
    let scale = |(side, &weight): (usize, &f64)| {
        let window = config.window.min(side);
        let shrink = if scale_sigma {
            window as f64 / config.window as f64
        } else {
            1.0
        };
        Scale {
            window: gaussian(window, config.sigma * shrink),
            weight,
        }
    };
    sides(config, side)
        .zip(&config.weights)
        .map(scale)
        .collect()
}

/// The 1-D Gaussian `g[i] = exp(-(i - (size - 1) / 2)^2 / (2 sigma^2))`, normalised to sum 1.
fn gaussian(size: usize, sigma: f64) -> Vec<f64> {
    let centre = (size as f64 - 1.0) / 2.0;
    let g: Vec<f64> = (0..size)
        .map(|i| (-(i as f64 - centre).powi(2) / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = g.iter().sum();
    g.into_iter().map(|v| v / total).collect()
}

/// MS-SSIM of one channel plane of `height x width` pixels.
fn ms_ssim_plane(
    a: &[f64],
    b: &[f64],
    height: usize,
    width: usize,
    plan: &[Scale],
    constants: Constants,
) -> f64 {
    let (mut a, mut b, mut h, mut w) = (a.to_vec(), b.to_vec(), height, width);
    let mut value = 1.0;
    for (s, scale) in plan.iter().enumerate() {
        let stats = scale_stats(&a, &b, h, w, &scale.window, constants);
        let last = s + 1 == plan.len();
        let term = if last { stats.ssim } else { stats.cs };
        value *= term.max(0.0).powf(scale.weight);
        if !last {
            a = downsample(&a, h, w);
            b = downsample(&b, h, w);
            (h, w) = (h.div_ceil(2), w.div_ceil(2));
        }
    }
    value
}

/// The means of one scale's SSIM and contrast-structure (CS) maps.
struct ScaleStats {
    ssim: f64,
    cs: f64,
}

/// SSIM and CS of two `height x width` planes under the separable window `g`, valid filtering.
fn scale_stats(
    a: &[f64],
    b: &[f64],
    height: usize,
    width: usize,
    g: &[f64],
    constants: Constants,
) -> ScaleStats {
    let product =
        |x: &[f64], y: &[f64]| -> Vec<f64> { x.iter().zip(y).map(|(p, q)| p * q).collect() };
    let blur = |x: &[f64]| blur(x, height, width, g);
    let (mu_a, mu_b) = (blur(a), blur(b));
    let (e_aa, e_bb, e_ab) = (
        blur(&product(a, a)),
        blur(&product(b, b)),
        blur(&product(a, b)),
    );
    let Constants { c1, c2 } = constants;
    let (mut ssim, mut cs) = (0.0, 0.0);
    for i in 0..mu_a.len() {
        let (ma, mb) = (mu_a[i], mu_b[i]);
        let (va, vb, cov) = (e_aa[i] - ma * ma, e_bb[i] - mb * mb, e_ab[i] - ma * mb);
        let cs_i = (2.0 * cov + c2) / (va + vb + c2);
        cs += cs_i;
        ssim += cs_i * (2.0 * ma * mb + c1) / (ma * ma + mb * mb + c1);
    }
    let n = mu_a.len() as f64;
    ScaleStats {
        ssim: ssim / n,
        cs: cs / n,
    }
}

/// Valid 2-D filtering of a `height x width` plane by `outer(g, g)`, rows then columns.
fn blur(x: &[f64], height: usize, width: usize, g: &[f64]) -> Vec<f64> {
    let k = g.len();
    let (out_h, out_w) = (height + 1 - k, width + 1 - k);
    let mut rows = vec![0.0; height * out_w];
    for (src, dst) in x.chunks_exact(width).zip(rows.chunks_exact_mut(out_w)) {
        for (t, &gt) in g.iter().enumerate() {
            dst.iter_mut()
                .zip(&src[t..t + out_w])
                .for_each(|(d, s)| *d += gt * s);
        }
    }
    let mut out = vec![0.0; out_h * out_w];
    for (i, dst) in out.chunks_exact_mut(out_w).enumerate() {
        for (t, &gt) in g.iter().enumerate() {
            let src = &rows[(i + t) * out_w..(i + t + 1) * out_w];
            dst.iter_mut().zip(src).for_each(|(d, s)| *d += gt * s);
        }
    }
    out
}

/// 2x2 means of a `height x width` plane; an odd last row or column is paired with itself.
fn downsample(x: &[f64], height: usize, width: usize) -> Vec<f64> {
    let (out_h, out_w) = (height.div_ceil(2), width.div_ceil(2));
    let at = |r: usize, c: usize| x[r.min(height - 1) * width + c.min(width - 1)];
    (0..out_h * out_w)
        .map(|i| {
            let (r, c) = (2 * (i / out_w), 2 * (i % out_w));
            (at(r, c) + at(r, c + 1) + at(r + 1, c) + at(r + 1, c + 1)) / 4.0
        })
        .collect()
}
