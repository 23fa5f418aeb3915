//! Latent walks and the memorisation check (the paper's section 4.4 and figure 5).
//!
//! - [`interpolate`] and [`interpolation_grid`]: walks between two noise vectors with the class
//!   held fixed, straight ([`Interpolation::Linear`]) or along the great circle
//!   ([`Interpolation::Spherical`]). A generator that memorised its training set jumps between
//!   a few images; one that learned a smooth manifold changes gradually.
//! - [`class_swap`]: the same noise vectors rendered for several classes, one row per class,
//!   which shows what the noise controls once the class is fixed (pose, stroke, background).
//! - [`nearest_neighbours`] and [`side_by_side`]: each sample beside the training images
//!   closest to it in pixels, to see whether samples are copies.
//!
//! Every function that runs the generator does so in inference mode, and every grid comes out
//! in row order ready for [`crate::grid::tile`] with the stated number of columns.
//!
//! ```
//! use acgan::eval::latent::{class_swap, interpolation_grid, Interpolation};
//! use acgan::{grid, init::SeededInit, rng, Generator, GeneratorConfig};
//! use candle_core::Device;
//!
//! # fn main() -> acgan::Result<()> {
//! let (device, vars) = (Device::Cpu, candle_nn::VarMap::new());
//! let g = Generator::new(&GeneratorConfig::mnist(), SeededInit::var_builder(&vars, 0, &device))?;
//! let noise = g.sample_noise(6, &mut rng::seeded(1), &device)?;
//!
//! // Ten rows (digits 0..9) of the same six noise vectors.
//! let swap = class_swap(&g, &noise, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9])?;
//! let picture = grid::tile(&swap, 6, 2)?;
//! assert_eq!((picture.width, picture.height), (6 * 28 + 5 * 2, 10 * 28 + 9 * 2));
//!
//! // Three walks of eight steps between the first three and the last three vectors, all 7s.
//! let (start, end) = (noise.narrow(0, 0, 3)?, noise.narrow(0, 3, 3)?);
//! let walks = interpolation_grid(&g, &start, &end, 7, 8, Interpolation::Spherical)?;
//! assert_eq!(walks.dims(), &[24, 1, 28, 28]);
//! # Ok(())
//! # }
//! ```

use std::cmp::Ordering;

use candle_core::{DType, Device, IndexOp, Tensor};

use crate::check::shape_error;
use crate::{check, Error, Generator, Result};

/// How [`interpolate`] moves between two noise vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpolation {
    /// `(1 - t) z0 + t z1`. Midpoints of Gaussian noise are shorter than typical draws (by
    /// about `1/sqrt(2)` for independent vectors), so the middle of a linear walk shows images
    /// from a region the generator rarely saw in training.
    Linear,
    /// Spherical linear interpolation (Shoemake's slerp):
    /// `sin((1 - t) w) / sin(w) z0 + sin(t w) / sin(w) z1`, where `w` is the angle between
    /// `z0` and `z1`. Between vectors of equal norm every point keeps that norm, so the walk
    /// stays where Gaussian noise lives. When `sin(w)` is below [`PARALLEL_EPSILON`] (the
    /// vectors are parallel or opposite, or one is zero) the great circle is undefined and the
    /// walk falls back to [`Interpolation::Linear`].
    Spherical,
}

/// The smallest `sin(w)` of the angle between two vectors for which
/// [`Interpolation::Spherical`] is used; below it the walk is linear.
pub const PARALLEL_EPSILON: f64 = 1e-6;

/// Images read from the training set per chunk in [`nearest_neighbours`] (in f32 elements),
/// which bounds its memory whatever the size of the training set.
const CHUNK_ELEMENTS: usize = 1 << 22;

/// The `steps` points of a walk from `z0` to `z1`, both ends included (`t = i / (steps - 1)`).
///
/// The coefficients are computed in f64 on the host and the result has `z0`'s dtype and
/// device; the first row is exactly `z0` and the last exactly `z1`.
///
/// # Shapes
/// - `z0`, `z1`: `(latent_dim,)` or `(1, latent_dim)` float, the same length
/// - returns `(steps, latent_dim)`; `steps` must be at least 2
pub fn interpolate(z0: &Tensor, z1: &Tensor, steps: usize, kind: Interpolation) -> Result<Tensor> {
    let a = host_vector("interpolate z0", z0)?;
    let b = host_vector("interpolate z1", z1)?;
    if b.len() != a.len() {
        return Err(shape_error(
            "interpolate z1",
            format!("({},) float", a.len()),
            z1,
        ));
    }
    if steps < 2 {
        return Err(Error::config(
            "latent::interpolate",
            format!("steps must be at least 2 (both ends), found {steps}"),
        ));
    }
    let weights = walk_weights(&a, &b, kind);
    let mut values = Vec::with_capacity(steps * a.len());
    for i in 0..steps {
        let (wa, wb) = weights(i as f64 / (steps - 1) as f64);
        values.extend(a.iter().zip(&b).map(|(x, y)| wa * x + wb * y));
    }
    let walk = Tensor::from_vec(values, (steps, a.len()), &Device::Cpu)?;
    Ok(walk.to_dtype(z0.dtype())?.to_device(z0.device())?)
}

/// The weights of `z0` and `z1` at `t` for the walk `kind` between `a` and `b`.
fn walk_weights(a: &[f64], b: &[f64], kind: Interpolation) -> impl Fn(f64) -> (f64, f64) {
    let angle = match kind {
        Interpolation::Linear => None,
        Interpolation::Spherical => great_circle_angle(a, b),
    };
    move |t| match angle {
        None => (1.0 - t, t),
        Some(w) => (((1.0 - t) * w).sin() / w.sin(), (t * w).sin() / w.sin()),
    }
}

/// The angle between `a` and `b`, or `None` when its sine is below [`PARALLEL_EPSILON`].
fn great_circle_angle(a: &[f64], b: &[f64]) -> Option<f64> {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norms =
        a.iter().map(|x| x * x).sum::<f64>().sqrt() * b.iter().map(|y| y * y).sum::<f64>().sqrt();
    let cos = (dot / norms).clamp(-1.0, 1.0);
    let angle = cos.acos();
    (norms > 0.0 && angle.sin() >= PARALLEL_EPSILON).then_some(angle)
}

/// One walk per row, from `start[r]` to `end[r]` in `steps` points, all for `class`.
///
/// Tile the result with `steps` columns: row `r` shows walk `r`, left to right.
///
/// # Shapes
/// - `start`, `end`: `(rows, latent_dim)` float
/// - returns `(rows * steps, channels, size, size)` in [-1, 1], walk `r` at `r * steps ..`
pub fn interpolation_grid(
    generator: &Generator,
    start: &Tensor,
    end: &Tensor,
    class: u32,
    steps: usize,
    kind: Interpolation,
) -> Result<Tensor> {
    let config = generator.config();
    let rows = check::matrix("interpolation_grid start", start, config.latent_dim)?;
    if check::matrix("interpolation_grid end", end, config.latent_dim)? != rows {
        let expected = format!("({rows}, {}) float, like start", config.latent_dim);
        return Err(shape_error("interpolation_grid end", expected, end));
    }
    check_classes("interpolation_grid class", &[class], config.num_classes)?;
    if rows == 0 {
        return Err(Error::config(
            "latent::interpolation_grid",
            "needs at least one walk",
        ));
    }
    let walks = (0..rows)
        .map(|r| interpolate(&start.i(r)?, &end.i(r)?, steps, kind))
        .collect::<Result<Vec<_>>>()?;
    let noise = Tensor::cat(&walks, 0)?;
    let labels = Tensor::from_vec(vec![class; rows * steps], rows * steps, start.device())?;
    Ok(generator.forward_t(&noise, &labels, false)?.detach())
}

/// The same noise rendered for each class: row `r` is `classes[r]`, column `j` is `noise[j]`.
///
/// Tile the result with `noise`'s batch size as the number of columns. Reading down a column
/// shows what one noise vector means across classes.
///
/// # Shapes
/// - `noise`: `(columns, latent_dim)` float
/// - returns `(classes.len() * columns, channels, size, size)` in [-1, 1], the image of row
///   `r` and column `j` at `r * columns + j`
pub fn class_swap(generator: &Generator, noise: &Tensor, classes: &[u32]) -> Result<Tensor> {
    let config = generator.config();
    let columns = check::matrix("class_swap noise", noise, config.latent_dim)?;
    check_classes("class_swap classes", classes, config.num_classes)?;
    if columns == 0 || classes.is_empty() {
        return Err(Error::config(
            "latent::class_swap",
            format!(
                "needs at least one noise vector and one class, found {columns} and {}",
                classes.len()
            ),
        ));
    }
    let rows = classes.len();
    let labels: Vec<u32> = classes
        .iter()
        .flat_map(|&c| std::iter::repeat_n(c, columns))
        .collect();
    let labels = Tensor::from_vec(labels, rows * columns, noise.device())?;
    let noise = noise.repeat((rows, 1))?;
    Ok(generator.forward_t(&noise, &labels, false)?.detach())
}

/// For each sample, the `k` training images closest to it by mean absolute pixel difference,
/// nearest first, as `(index into training, distance)`.
///
/// The distance is `mean(|sample - image|)` over all channels and pixels, in the images' own
/// units (for images in [-1, 1] it lies in [0, 2]). Ties keep the lower training index first.
/// The training set is read to the host in chunks of about 16 MiB, so memory stays bounded;
/// the comparison runs on the host, one core.
///
/// # Shapes
/// - `samples`: `(n, channels, height, width)` float
/// - `training`: `(m, channels, height, width)` float, the same image shape
/// - `k` between 1 and `m`; returns `n` lists of `k` pairs
pub fn nearest_neighbours(
    samples: &Tensor,
    training: &Tensor,
    k: usize,
) -> Result<Vec<Vec<(usize, f64)>>> {
    let (n, c, h, w) = dims4("nearest_neighbours samples", samples)?;
    let m = same_image_shape("nearest_neighbours training", training, (c, h, w))?;
    if k == 0 || k > m {
        return Err(Error::config(
            "latent::nearest_neighbours",
            format!("k must be between 1 and the {m} training images, found {k}"),
        ));
    }
    let size = c * h * w;
    let queries = samples
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let mut best = vec![Vec::new(); n];
    let chunk_rows = (CHUNK_ELEMENTS / size.max(1)).max(1);
    for start in (0..m).step_by(chunk_rows) {
        let rows = chunk_rows.min(m - start);
        let chunk = training.narrow(0, start, rows)?.to_dtype(DType::F32)?;
        let chunk = chunk.flatten_all()?.to_vec1::<f32>()?;
        for (j, image) in chunk.chunks_exact(size).enumerate() {
            for (list, query) in best.iter_mut().zip(queries.chunks_exact(size)) {
                let distance = mean_abs_difference(query, image);
                offer(list, k, start + j, distance);
            }
        }
    }
    Ok(best)
}

/// Inserts `(index, distance)` into the ascending `list` if it is among the `k` best. Indices
/// arrive in increasing order, so inserting after equal distances keeps ties by index.
fn offer(list: &mut Vec<(usize, f64)>, k: usize, index: usize, distance: f64) {
    if list.len() == k && list[k - 1].1.total_cmp(&distance) != Ordering::Greater {
        return;
    }
    let at = list.partition_point(|e| e.1.total_cmp(&distance) != Ordering::Greater);
    list.insert(at, (index, distance));
    list.truncate(k);
}

/// `mean(|a - b|)`: f32 partial sums over blocks of 256 in eight lanes (which vectorise),
/// added up in f64.
fn mean_abs_difference(a: &[f32], b: &[f32]) -> f64 {
    let mut total = 0.0f64;
    for (block_a, block_b) in a.chunks(256).zip(b.chunks(256)) {
        let mut lanes = [0.0f32; 8];
        let mut rest = 0.0f32;
        let (a8, b8) = (block_a.chunks_exact(8), block_b.chunks_exact(8));
        for (&x, &y) in a8.remainder().iter().zip(b8.remainder()) {
            rest += (x - y).abs();
        }
        for (x, y) in a8.zip(b8) {
            for ((lane, p), q) in lanes.iter_mut().zip(x).zip(y) {
                *lane += (p - q).abs();
            }
        }
        total += lanes.iter().sum::<f32>() as f64 + rest as f64;
    }
    total / a.len().max(1) as f64
}

/// Each sample followed by its neighbours from `training`, one row per sample.
///
/// `neighbours` is what [`nearest_neighbours`] returned (only the indices are used). Tile the
/// result with `k + 1` columns: the sample on the left, its nearest training image next.
///
/// # Shapes
/// - `samples`: `(n, channels, height, width)`; `training`: `(m, channels, height, width)`
/// - `neighbours`: `n` lists of the same length `k`, indices below `m`
/// - returns `(n * (k + 1), channels, height, width)`
pub fn side_by_side(
    samples: &Tensor,
    training: &Tensor,
    neighbours: &[Vec<(usize, f64)>],
) -> Result<Tensor> {
    let (n, c, h, w) = dims4("side_by_side samples", samples)?;
    let m = same_image_shape("side_by_side training", training, (c, h, w))?;
    let k = neighbours.first().map_or(0, Vec::len);
    let indices = neighbour_indices(neighbours, n, k, m)?;
    let picked = training.index_select(&Tensor::new(indices, training.device())?, 0)?;
    let picked = picked.reshape((n, k, c, h, w))?.to_dtype(samples.dtype())?;
    let rows = Tensor::cat(&[&samples.unsqueeze(1)?, &picked], 1)?;
    Ok(rows.reshape((n * (k + 1), c, h, w))?)
}

/// The neighbours' indices, row by row, after checking there are `n` rows of `k` indices
/// below `m`.
fn neighbour_indices(
    neighbours: &[Vec<(usize, f64)>],
    n: usize,
    k: usize,
    m: usize,
) -> Result<Vec<u32>> {
    let fail = |message: String| Err(Error::config("latent::side_by_side", message));
    if neighbours.len() != n {
        return fail(format!(
            "{n} samples but {} neighbour lists",
            neighbours.len()
        ));
    }
    if let Some((i, list)) = neighbours.iter().enumerate().find(|(_, l)| l.len() != k) {
        return fail(format!(
            "list {i} has {} neighbours, list 0 has {k}",
            list.len()
        ));
    }
    let indices = neighbours.iter().flatten().map(|&(index, _)| index);
    if let Some(index) = indices.clone().find(|&index| index >= m) {
        return fail(format!(
            "neighbour index {index} is out of range for {m} training images"
        ));
    }
    Ok(indices.map(|index| index as u32).collect())
}

/// Checks every class is below `num_classes`.
fn check_classes(argument: &str, classes: &[u32], num_classes: usize) -> Result<()> {
    match classes.iter().find(|&&c| c as usize >= num_classes) {
        Some(&label) => Err(Error::LabelOutOfRange {
            argument: argument.to_string(),
            label: label as u64,
            num_classes,
        }),
        None => Ok(()),
    }
}

/// Reads a `(d,)` or `(1, d)` float tensor to the host as f64.
fn host_vector(argument: &str, z: &Tensor) -> Result<Vec<f64>> {
    let ok = z.dtype().is_float() && matches!(z.dims(), [_] | [1, _]);
    if !ok {
        return Err(shape_error(
            argument,
            "(latent_dim,) or (1, latent_dim) float".into(),
            z,
        ));
    }
    Ok(z.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?)
}

/// Checks `x` is a float batch of non-empty images and returns its dims.
fn dims4(argument: &str, x: &Tensor) -> Result<(usize, usize, usize, usize)> {
    match x.dims() {
        &[n, c, h, w] if c * h * w > 0 && x.dtype().is_float() => Ok((n, c, h, w)),
        _ => Err(shape_error(
            argument,
            "(batch, channels, height, width) float, each side at least 1".into(),
            x,
        )),
    }
}

/// Checks `x` is a float batch of `(c, h, w)` images and returns its batch size.
fn same_image_shape(argument: &str, x: &Tensor, (c, h, w): (usize, usize, usize)) -> Result<usize> {
    match x.dims() {
        &[m, xc, xh, xw] if (xc, xh, xw) == (c, h, w) && x.dtype().is_float() => Ok(m),
        _ => Err(shape_error(
            argument,
            format!("(batch, {c}, {h}, {w}) float"),
            x,
        )),
    }
}
