//! Convolutions whose forward and backward passes are matrix products.
//!
//! candle's CPU `conv2d` computes its forward pass as im2col and a matrix product, but its
//! gradients, and both passes of `conv_transpose2d`, run direct loops several times slower
//! than its matrix product. Here two private ops, each the other's adjoint, do the reshuffling:
//! `Im2Col` copies every kernel-sized patch of an image into a column, and `Col2Im` adds columns
//! back into an image, summing where patches overlap. [`conv2d`] is im2col followed by one
//! product with the weight matrix; [`conv_transpose2d`] is one product with the transposed
//! weight matrix followed by col2im. Backward, each takes the other's route: two products of the
//! output gradient, and the adjoint op for the input gradient.
//!
//! Columns are laid out `(channels * kernel * kernel, batch * grid rows * grid cols)`: one row
//! per channel and kernel offset, one column per image and patch position, so each product
//! covers the whole batch at once and the inner loops run along image rows.
//!
//! Each convolution is a single node of candle's graph, with its own backward that skips a
//! gradient no tensor asks for (the input images of a discriminator). Built from separate
//! im2col, matmul and permute nodes instead, it ran up to 1.6 times slower on this crate's
//! layer shapes, because candle's backward zero-fills and adds a gradient for every node, the
//! large columns included. The price: the backward passes run on detached tensors, so
//! second-order gradients (a gradient penalty) do not flow through these convolutions: they
//! come out missing, without an error. Lifting that means writing the backward with
//! graph-tracking ops, at the cost above.
//!
//! Both functions take square kernels, dilation 1 and one group, which is all this crate uses.
//! On devices other than the CPU, and for dtypes other than f32 and f64, they call candle's own
//! convolutions, which compute the same values.

use std::ops::{AddAssign, Range};

use candle_core::backend::{BackendDevice, BackendStorage};
use candle_core::cpu_backend::CpuDevice;
use candle_core::op::BackpropOp;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Shape, Storage, Tensor};

use crate::check::shape_error;
use crate::{Error, Result};

/// 2-D convolution of `x` with `w`, like candle's `x.conv2d(w, padding, stride, 1, 1)`.
///
/// The input is padded with `padding` zeros on every side and the kernel moves by `stride`.
///
/// # Shapes
/// - `x`: `(batch, c_in, height, width)`, f32 or f64 (other float dtypes go to candle).
/// - `w`: `(c_out, c_in, k, k)`, same dtype.
/// - returns `(batch, c_out, (height + 2 * padding - k) / stride + 1, (width + ...) / stride + 1)`.
///
/// # Errors
/// [`Error::Shape`] when a rank, channel count or dtype does not match, or when the kernel is
/// larger than the padded input; [`Error::Config`] when `stride` is 0.
pub fn conv2d(x: &Tensor, w: &Tensor, padding: usize, stride: usize) -> Result<Tensor> {
    let geometry = conv_geometry(x, w, padding, stride)?;
    if !on_columns(x) {
        return Ok(x.conv2d(w, padding, stride, 1, 1)?);
    }
    Ok(x.apply_op2(w, Conv2d(geometry))?)
}

/// 2-D transposed convolution of `x` with `w`, like candle's
/// `x.conv_transpose2d(w, padding, output_padding, stride, 1)`: the adjoint of [`conv2d`]
/// with the same `padding` and `stride`.
///
/// `output_padding` adds rows and columns at the bottom and right of the output, which receive
/// only the patches that reach them; it resolves the output size when `stride` > 1.
///
/// # Shapes
/// - `x`: `(batch, c_in, height, width)`, f32 or f64 (other float dtypes go to candle).
/// - `w`: `(c_in, c_out, k, k)`, same dtype.
/// - returns `(batch, c_out, (height - 1) * stride - 2 * padding + k + output_padding, ...)`,
///   and the same formula for the width.
///
/// # Errors
/// [`Error::Shape`] when a rank, channel count or dtype does not match, when `x` has an empty
/// side, or when `padding` leaves no output; [`Error::Config`] when `stride` is 0.
pub fn conv_transpose2d(
    x: &Tensor,
    w: &Tensor,
    padding: usize,
    output_padding: usize,
    stride: usize,
) -> Result<Tensor> {
    let geometry = transposed_geometry(x, w, padding, output_padding, stride)?;
    if !on_columns(x) {
        return Ok(x.conv_transpose2d(w, padding, output_padding, stride, 1)?);
    }
    Ok(x.apply_op2(w, ConvTranspose2d(geometry))?)
}

/// Checks the arguments of [`conv2d`] and returns where its patches lie.
fn conv_geometry(x: &Tensor, w: &Tensor, padding: usize, stride: usize) -> Result<Geometry> {
    let (_, c_in, h, wd) = check_input("conv2d", x)?;
    let (_, _, k) = check_weight("conv2d", w, x, 1)?;
    check_stride("conv2d", stride)?;
    let side =
        |s: usize| Some(s.checked_add(padding.checked_mul(2)?)?.checked_sub(k)? / stride + 1);
    let (Some(rows), Some(cols)) = (side(h), side(wd)) else {
        let expected = format!(
            "(batch, {c_in}, height, width) with height and width + 2 * padding ({padding}) \
             at least the kernel size {k}"
        );
        return Err(shape_error("conv2d x", expected, x));
    };
    Ok(Geometry {
        kernel: k,
        stride,
        padding,
        image: (h, wd),
        grid: (rows, cols),
    })
}

/// Checks the arguments of [`conv_transpose2d`] and returns where its patches lie: its input
/// is the grid, its output the image.
fn transposed_geometry(
    x: &Tensor,
    w: &Tensor,
    padding: usize,
    output_padding: usize,
    stride: usize,
) -> Result<Geometry> {
    let (_, c_in, h, wd) = check_input("conv_transpose2d", x)?;
    let (_, _, k) = check_weight("conv_transpose2d", w, x, 0)?;
    check_stride("conv_transpose2d", stride)?;
    let side = |s: usize| {
        let full = (s - 1)
            .checked_mul(stride)?
            .checked_add(k)?
            .checked_add(output_padding)?;
        full.checked_sub(padding.checked_mul(2)?)
            .filter(|&side| side > 0)
    };
    let (Some(height), Some(width)) = (side(h), side(wd)) else {
        let expected = format!(
            "(batch, {c_in}, height, width) with (side - 1) * stride + kernel \
             + output_padding greater than 2 * padding ({padding})"
        );
        return Err(shape_error("conv_transpose2d x", expected, x));
    };
    Ok(Geometry {
        kernel: k,
        stride,
        padding,
        image: (height, width),
        grid: (h, wd),
    })
}

/// Whether `x` goes through the column ops rather than candle's convolutions.
fn on_columns(x: &Tensor) -> bool {
    x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64)
}

/// Checks `x` is `(batch, channels, height, width)` of a float dtype with non-empty sides.
fn check_input(op: &str, x: &Tensor) -> Result<(usize, usize, usize, usize)> {
    match *x.dims() {
        [n, c, h, w] if h > 0 && w > 0 && x.dtype().is_float() => Ok((n, c, h, w)),
        _ => {
            let expected = "(batch, channels, height, width) float, height and width non-zero";
            Err(shape_error(&format!("{op} x"), expected.to_string(), x))
        }
    }
}

/// Checks `w` is `(a, b, k, k)` of `x`'s dtype with `x`'s channel count at `axis` (0 or 1),
/// and returns `(a, b, k)`.
fn check_weight(op: &str, w: &Tensor, x: &Tensor, axis: usize) -> Result<(usize, usize, usize)> {
    let channels = x.dims()[1];
    match *w.dims() {
        [a, b, k, k2] if k == k2 && k > 0 && [a, b][axis] == channels && w.dtype() == x.dtype() => {
            Ok((a, b, k))
        }
        _ => {
            let (a, b) = if axis == 0 {
                (channels.to_string(), "c_out".into())
            } else {
                ("c_out".into(), channels.to_string())
            };
            let expected = format!("({a}, {b}, k, k) {:?}, k non-zero", x.dtype());
            Err(shape_error(&format!("{op} w"), expected, w))
        }
    }
}

fn check_stride(op: &'static str, stride: usize) -> Result<()> {
    match stride {
        0 => Err(Error::config(op, "stride is 0; it must be at least 1")),
        _ => Ok(()),
    }
}

/// Where the patches of an image lie: grid position `(gy, gx)` and kernel offset `(ki, kj)`
/// read pixel `(gy * stride + ki - padding, gx * stride + kj - padding)`, zero when outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Geometry {
    kernel: usize,
    stride: usize,
    padding: usize,
    /// Image height and width.
    image: (usize, usize),
    /// Patch positions down and across.
    grid: (usize, usize),
}

impl Geometry {
    /// Column rows for `channels` image channels.
    fn rows(&self, channels: usize) -> usize {
        channels * self.kernel * self.kernel
    }

    fn patches(&self) -> usize {
        self.grid.0 * self.grid.1
    }

    /// The grid positions `g < grid` whose pixel `g * stride + offset - padding` along an
    /// axis of `size` pixels lies inside the image.
    fn inside(&self, offset: usize, size: usize, grid: usize) -> Range<usize> {
        let start = self.padding.saturating_sub(offset).div_ceil(self.stride);
        let end = (size + self.padding)
            .checked_sub(offset + 1)
            .map_or(0, |last| last / self.stride + 1)
            .min(grid);
        start.min(end)..end
    }

    /// The pixel read by grid position `g` at kernel offset `offset`; `g` must be inside.
    fn pixel(&self, g: usize, offset: usize) -> usize {
        g * self.stride + offset - self.padding
    }
}

/// Image `(batch, channels, height, width)` to columns
/// `(channels * kernel * kernel, batch * grid rows * grid cols)`; the adjoint of [`Col2Im`].
struct Im2Col(Geometry);

/// Columns `(channels * kernel * kernel, batch * grid rows * grid cols)` to image
/// `(batch, channels, height, width)`, adding overlapping patches; the adjoint of [`Im2Col`].
struct Col2Im(Geometry);

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l.shape().dims4()?;
        if (h, w) != self.0.image {
            candle_core::bail!("im2col: image {h}x{w} does not match {:?}", self.0)
        }
        let shape = Shape::from((self.0.rows(c), n * self.0.patches()));
        let out = match s {
            CpuStorage::F32(v) => CpuStorage::F32(im2col(v, l, &self.0)),
            CpuStorage::F64(v) => CpuStorage::F64(im2col(v, l, &self.0)),
            _ => return Err(unsupported(s, "im2col")),
        };
        Ok((out, shape))
    }

    fn bwd(&self, _: &Tensor, _: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        grad.apply_op1(Col2Im(self.0)).map(Some)
    }
}

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "col2im"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, len) = l.shape().dims2()?;
        let (kk, patches) = (self.0.rows(1), self.0.patches());
        if rows % kk != 0 || len % patches != 0 {
            candle_core::bail!("col2im: columns ({rows}, {len}) do not match {:?}", self.0)
        }
        let (h, w) = self.0.image;
        let shape = Shape::from((len / patches, rows / kk, h, w));
        let out = match s {
            CpuStorage::F32(v) => CpuStorage::F32(col2im(v, l, &self.0)),
            CpuStorage::F64(v) => CpuStorage::F64(col2im(v, l, &self.0)),
            _ => return Err(unsupported(s, "col2im")),
        };
        Ok((out, shape))
    }

    fn bwd(&self, _: &Tensor, _: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        grad.apply_op1(Im2Col(self.0)).map(Some)
    }
}

/// [`conv2d`] as one graph node: im2col and the weight product forward; backward, the two
/// products of the output gradient and col2im, each skipped when its argument needs no gradient.
struct Conv2d(Geometry);

/// [`conv_transpose2d`] as one graph node: the transposed-weight product and col2im forward;
/// backward, im2col of the output gradient and its two products.
struct ConvTranspose2d(Geometry);

impl CustomOp2 for Conv2d {
    fn name(&self) -> &'static str {
        "conv2d-columns"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (cols, shape) = Im2Col(self.0).cpu_fwd(xs, xl)?;
        let cols = Tensor::from_storage(Storage::Cpu(cols), shape, BackpropOp::none(), false);
        let y = cpu_tensor(ws, wl)?.flatten_from(1)?.matmul(&cols)?;
        let (c_out, n, (gh, gw)) = (wl.dims()[0], xl.dims()[0], self.0.grid);
        let nchw = Layout::contiguous((c_out, n, gh, gw)).transpose(0, 1)?;
        with_cpu_storage(&y, |ys, _| Ok((copy_cpu(ys, &nchw)?, nchw.shape().clone())))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let g = grad.transpose(0, 1)?.flatten_from(1)?;
        let w_mat = w.detach().flatten_from(1)?;
        let dx = match x.track_op() {
            true => Some(w_mat.t()?.matmul(&g)?.apply_op1(Col2Im(self.0))?),
            false => None,
        };
        let dw = match w.track_op() {
            true => {
                let cols = x.detach().apply_op1(Im2Col(self.0))?;
                Some(g.matmul(&cols.t()?)?.reshape(w.shape())?)
            }
            false => None,
        };
        Ok((dx, dw))
    }
}

impl CustomOp2 for ConvTranspose2d {
    fn name(&self) -> &'static str {
        "conv-transpose2d-columns"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x_mat = cpu_tensor(xs, &xl.transpose(0, 1)?)?.flatten_from(1)?;
        let cols = cpu_tensor(ws, wl)?.flatten_from(1)?.t()?.matmul(&x_mat)?;
        with_cpu_storage(&cols, |cs, cl| Col2Im(self.0).cpu_fwd(cs, cl))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let cols = grad.apply_op1(Im2Col(self.0))?;
        let dx = match x.track_op() {
            true => {
                let dx = w.detach().flatten_from(1)?.matmul(&cols)?;
                let (n, c_in, h, wd) = x.dims4()?;
                Some(dx.reshape((c_in, n, h, wd))?.transpose(0, 1)?)
            }
            false => None,
        };
        let dw = match w.track_op() {
            true => {
                let x_mat = x.detach().transpose(0, 1)?.flatten_from(1)?;
                Some(x_mat.matmul(&cols.t()?)?.reshape(w.shape())?)
            }
            false => None,
        };
        Ok((dx, dw))
    }
}

fn unsupported(s: &CpuStorage, op: &'static str) -> candle_core::Error {
    candle_core::Error::UnsupportedDTypeForOp(s.dtype(), op).bt()
}

/// A contiguous copy of the elements of `s` that `l` describes.
fn copy_cpu(s: &CpuStorage, l: &Layout) -> candle_core::Result<CpuStorage> {
    let mut dst = CpuDevice.zeros_impl(l.shape(), s.dtype())?;
    s.copy_strided_src(&mut dst, 0, l)?;
    Ok(dst)
}

/// A contiguous tensor, outside any graph, of the elements of `s` that `l` describes.
fn cpu_tensor(s: &CpuStorage, l: &Layout) -> candle_core::Result<Tensor> {
    let storage = Storage::Cpu(copy_cpu(s, l)?);
    Ok(Tensor::from_storage(
        storage,
        l.shape().clone(),
        BackpropOp::none(),
        false,
    ))
}

/// Runs `f` on the storage of `t`, a tensor the column ops built on the CPU.
fn with_cpu_storage<R>(
    t: &Tensor,
    f: impl FnOnce(&CpuStorage, &Layout) -> candle_core::Result<R>,
) -> candle_core::Result<R> {
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(s) => f(s, layout),
        _ => candle_core::bail!("conv: expected a CPU tensor, found {:?}", t.device()),
    }
}

/// The element types the kernels run on: f32 and f64.
trait Elem: Copy + Default + AddAssign + Send + Sync {}

impl<T: Copy + Default + AddAssign + Send + Sync> Elem for T {}

/// The columns of the image in `src`, laid out by `layout` (any strides; 4-D, of `g.image`).
fn im2col<T: Elem>(src: &[T], layout: &Layout, g: &Geometry) -> Vec<T> {
    let (&[n, c, h, w], &[sn, sc, sh, sw]) = (layout.dims(), layout.stride()) else {
        return Vec::new();
    };
    let (k, s, (grid_h, grid_w)) = (g.kernel, g.stride, g.grid);
    let src = &src[layout.start_offset()..];
    let len = n * g.patches();
    let mut dst = vec![T::default(); g.rows(c) * len];
    let mut rows: Vec<_> = dst.chunks_mut(len.max(1)).enumerate().collect();
    for_each_chunk(&mut rows, |row, out| {
        let (ci, ki, kj) = (row / (k * k), row / k % k, row % k);
        let (ys, xs) = (g.inside(ki, h, grid_h), g.inside(kj, w, grid_w));
        if xs.is_empty() {
            return;
        }
        let x0 = g.pixel(xs.start, kj);
        for b in 0..n {
            for gy in ys.clone() {
                let from = b * sn + ci * sc + g.pixel(gy, ki) * sh + x0 * sw;
                let at = (b * grid_h + gy) * grid_w;
                gather(&mut out[at + xs.start..at + xs.end], &src[from..], s * sw);
            }
        }
    });
    dst
}

/// The image whose columns are in `src`, laid out by `layout` (any strides; 2-D, matching `g`).
fn col2im<T: Elem>(src: &[T], layout: &Layout, g: &Geometry) -> Vec<T> {
    let (&[rows, len], &[rs, cs]) = (layout.dims(), layout.stride()) else {
        return Vec::new();
    };
    let (k, s, (h, w), (grid_h, grid_w)) = (g.kernel, g.stride, g.image, g.grid);
    let (c, n) = (rows / g.rows(1), len / g.patches());
    let src = &src[layout.start_offset()..];
    let mut dst = vec![T::default(); n * c * h * w];
    // Channel-major order reads the rows of one channel's columns front to back.
    let mut planes: Vec<_> = dst.chunks_mut(h * w).enumerate().collect();
    planes.sort_by_key(|&(i, _)| (i % c, i / c));
    for_each_chunk(&mut planes, |plane, out| {
        let (b, ci) = (plane / c, plane % c);
        for ki in 0..k {
            let ys = g.inside(ki, h, grid_h);
            for kj in 0..k {
                let xs = g.inside(kj, w, grid_w);
                if xs.is_empty() {
                    continue;
                }
                let row = (ci * k + ki) * k + kj;
                for gy in ys.clone() {
                    let col = (b * grid_h + gy) * grid_w + xs.start;
                    let to = g.pixel(gy, ki) * w + g.pixel(xs.start, kj);
                    let from = &src[row * rs + col * cs..];
                    add_strided(&mut out[to..], s, from, cs, xs.len());
                }
            }
        }
    });
    dst
}

/// Fills `dst` with the values of `src` taken every `step`.
fn gather<T: Elem>(dst: &mut [T], src: &[T], step: usize) {
    match step {
        0 => dst.fill(src[0]),
        1 => dst.copy_from_slice(&src[..dst.len()]),
        _ => dst
            .iter_mut()
            .zip(src.iter().step_by(step))
            .for_each(|(d, v)| *d = *v),
    }
}

/// Adds `count` values of `src`, taken every `src_step`, to `dst` every `dst_step` (>= 1).
fn add_strided<T: Elem>(dst: &mut [T], dst_step: usize, src: &[T], src_step: usize, count: usize) {
    let targets = dst.iter_mut().step_by(dst_step).take(count);
    match (dst_step, src_step) {
        (_, 0) => targets.for_each(|d| *d += src[0]),
        (1, 1) => dst[..count]
            .iter_mut()
            .zip(&src[..count])
            .for_each(|(d, v)| *d += *v),
        _ => targets
            .zip(src.iter().step_by(src_step))
            .for_each(|(d, v)| *d += *v),
    }
}

/// Below this many elements a kernel runs on the calling thread alone.
const PARALLEL_MIN: usize = 1 << 16;

/// Calls `f(index, chunk)` for every `(index, chunk)` pair, the pairs split in contiguous runs
/// over candle's thread count when the chunks hold [`PARALLEL_MIN`] elements or more.
fn for_each_chunk<T: Send>(chunks: &mut [(usize, &mut [T])], f: impl Fn(usize, &mut [T]) + Sync) {
    let elements: usize = chunks.iter().map(|(_, c)| c.len()).sum();
    let threads = match elements {
        0..PARALLEL_MIN => 1,
        _ => candle_core::utils::get_num_threads().clamp(1, chunks.len().max(1)),
    };
    let run = |part: &mut [(usize, &mut [T])]| part.iter_mut().for_each(|(i, c)| f(*i, c));
    if threads == 1 {
        return run(chunks);
    }
    std::thread::scope(|scope| {
        let mut parts = chunks.chunks_mut(chunks.len().div_ceil(threads));
        let own = parts.next();
        for part in parts {
            scope.spawn(move || run(part));
        }
        if let Some(part) = own {
            run(part);
        }
    });
}
