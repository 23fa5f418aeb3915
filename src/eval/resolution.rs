//! Accuracy against resolution: the paper's discriminability curve (section 4.1, figure 2).
//!
//! Images are resized down to a lower size and back up to their own, bilinearly, so that a
//! classifier trained at full size judges how much class information survives at each size.
//! Done for generated and for real images, it shows whether a generator's extra resolution
//! carries information or only blur.
//!
//! # Convention
//! [`resize_bilinear`] samples at half-pixel centres without antialiasing: output pixel `o`
//! of a side scaled from `input` to `output` reads the input at
//! `max((o + 0.5) * input / output - 0.5, 0)`, interpolating linearly between the two nearest
//! pixels and repeating the last one beyond the edge. This is PyTorch's
//! `F.interpolate(mode="bilinear", align_corners=False, antialias=False)` and TensorFlow 2's
//! `tf.image.resize(method="bilinear", antialias=False)`. Downsizing therefore reads at most
//! two input pixels per output pixel along each side: halving averages 2x2 blocks exactly,
//! and larger factors skip pixels.

use candle_core::Tensor;

use crate::eval::classifier::{Classifier, ValueRange};
use crate::{Error, Result};

/// The weights of a 1-D bilinear resize from `input` to `output` samples, row-major
/// `(output, input)`: each row holds at most two non-zero weights that sum to 1.
fn interpolation_matrix(input: usize, output: usize) -> Vec<f64> {
    let scale = input as f64 / output as f64;
    let mut weights = vec![0.0; output * input];
    for (o, row) in weights.chunks_mut(input).enumerate() {
        let at = ((o as f64 + 0.5) * scale - 0.5).max(0.0);
        let low = (at.floor() as usize).min(input - 1);
        let high = (low + 1).min(input - 1);
        let t = at - low as f64;
        row[low] += 1.0 - t;
        row[high] += t;
    }
    weights
}

/// The transposed interpolation matrix `(input, output)` as a tensor like `like`.
fn matrix_t(input: usize, output: usize, like: &Tensor) -> Result<Tensor> {
    let m = Tensor::from_vec(
        interpolation_matrix(input, output),
        (output, input),
        like.device(),
    )?;
    Ok(m.t()?.to_dtype(like.dtype())?.contiguous()?)
}

/// Resizes images bilinearly to `height` x `width` with half-pixel centres and no
/// antialiasing (see the [module docs](self) for the exact convention).
///
/// Computed as two matrix products, one per side, so it runs on any device. The same size
/// returns the images unchanged.
///
/// # Shapes
/// - `images`: `(batch, channels, h, w)` float, `h` and `w` positive
/// - returns `(batch, channels, height, width)`, same dtype
///
/// # Errors
/// [`Error::Shape`] for another rank, an empty side or a non-float dtype; [`Error::Config`]
/// when `height` or `width` is 0.
pub fn resize_bilinear(images: &Tensor, height: usize, width: usize) -> Result<Tensor> {
    let (batch, channels, h, w) = match images.dims() {
        &[b, c, h, w] if h > 0 && w > 0 && images.dtype().is_float() => (b, c, h, w),
        _ => {
            return Err(Error::Shape {
                argument: "resize_bilinear images".into(),
                expected: "(batch, channels, height >= 1, width >= 1) float".into(),
                found: images.dims().to_vec(),
                dtype: images.dtype(),
            })
        }
    };
    if height == 0 || width == 0 {
        let message = format!("resize_bilinear needs a positive size, found {height}x{width}");
        return Err(Error::config("resize_bilinear", message));
    }
    if (h, w) == (height, width) {
        return Ok(images.clone());
    }
    let planes = batch * channels;
    // Columns first: (planes * h, w) x (w, width).
    let x = images
        .reshape((planes * h, w))?
        .matmul(&matrix_t(w, width, images)?)?;
    // Then rows, with the height moved last: (planes * width, h) x (h, height).
    let x = x
        .reshape((planes, h, width))?
        .transpose(1, 2)?
        .contiguous()?;
    let x = x
        .reshape((planes * width, h))?
        .matmul(&matrix_t(h, height, images)?)?;
    let x = x
        .reshape((planes, width, height))?
        .transpose(1, 2)?
        .contiguous()?;
    Ok(x.reshape((batch, channels, height, width))?)
}

/// Sizes for a curve over images of side `image_size`: a quarter, a half, three quarters and
/// the full side, e.g. `[7, 14, 21, 28]` for 28 and `[8, 16, 24, 32]` for 32 (the paper used
/// 16, 32, 64 and 128 for 128-pixel ImageNet samples). Sizes that round to 0 are left out.
pub fn default_sizes(image_size: usize) -> Vec<usize> {
    let mut sizes: Vec<usize> = (1..=4)
        .map(|q| image_size * q / 4)
        .filter(|&s| s > 0)
        .collect();
    sizes.dedup();
    sizes
}

/// One point of the accuracy-against-resolution curve.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResolutionPoint {
    /// The side the images were reduced to before being resized back up.
    pub size: usize,
    /// Classifier accuracy on the resized images, in [0, 1].
    pub accuracy: f64,
    /// Accuracy among the images of each class; NaN for a class with no images.
    pub per_class: Vec<f64>,
}

/// Classifier accuracy on `images` resized down to each of `sizes` (square) and back up to
/// their own size, bilinearly (see [`resize_bilinear`]), in batches.
///
/// Run it on generated images with the classes they were drawn for, and on real images of
/// the same classes, to compare the two curves.
///
/// # Shapes
/// - `images`: `(n, channels, size, size)` float in `range`, as the classifier takes
/// - `labels`: `(n,)` u32 below the classifier's `num_classes`
///
/// # Errors
/// [`Error::Config`] for a size of 0 or values outside `range`; the errors of
/// [`Classifier::accuracy`] for bad inputs.
pub fn accuracy_by_resolution(
    classifier: &Classifier,
    images: &Tensor,
    labels: &Tensor,
    range: ValueRange,
    sizes: &[usize],
) -> Result<Vec<ResolutionPoint>> {
    sizes
        .iter()
        .map(|&size| resolution_point(classifier, images, labels, range, size))
        .collect()
}

fn resolution_point(
    classifier: &Classifier,
    images: &Tensor,
    labels: &Tensor,
    range: ValueRange,
    size: usize,
) -> Result<ResolutionPoint> {
    if size == 0 {
        let message = "sizes must be positive, found 0".to_string();
        return Err(Error::config("accuracy_by_resolution", message));
    }
    let side = classifier.config().image_size;
    let down_and_up = |x: &Tensor| resize_bilinear(&resize_bilinear(x, size, size)?, side, side);
    let data = format!("resized to {size}x{size} and back");
    let report = classifier.accuracy_with(images, labels, range, &data, &down_and_up)?;
    Ok(ResolutionPoint {
        size,
        accuracy: report.overall,
        per_class: report.per_class,
    })
}
