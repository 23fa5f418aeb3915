//! Argument checks shared by the public tensor functions. Each returns an error that names the
//! argument and shows what was found.

use candle_core::{DType, Tensor};

use crate::{Error, Result};

/// An [`Error::Shape`] for `argument`, showing the shape and dtype of `t`.
pub(crate) fn shape_error(argument: &str, expected: String, t: &Tensor) -> Error {
    Error::Shape {
        argument: argument.to_string(),
        expected,
        found: t.dims().to_vec(),
        dtype: t.dtype(),
    }
}

/// Checks `x` is `(batch, width)` of a float dtype and returns `batch`.
pub(crate) fn matrix(argument: &str, x: &Tensor, width: usize) -> Result<usize> {
    match x.dims() {
        &[batch, w] if w == width && x.dtype().is_float() => Ok(batch),
        _ => Err(shape_error(argument, format!("(batch, {width}) float"), x)),
    }
}

/// Checks `x` is `(batch, channels, size, size)` of a float dtype and returns `batch`.
pub(crate) fn images(argument: &str, x: &Tensor, channels: usize, size: usize) -> Result<usize> {
    match x.dims() {
        &[batch, c, h, w] if c == channels && h == size && w == size && x.dtype().is_float() => {
            Ok(batch)
        }
        _ => Err(shape_error(
            argument,
            format!("(batch, {channels}, {size}, {size}) float"),
            x,
        )),
    }
}

/// Checks `labels` is `(batch,)` u32 with every value below `num_classes`.
///
/// Reading the maximum back synchronises the device once; an out-of-range label would
/// otherwise gather out of bounds or silently produce an all-zero one-hot row.
pub(crate) fn labels(
    argument: &str,
    labels: &Tensor,
    batch: usize,
    num_classes: usize,
) -> Result<()> {
    if labels.dims() != [batch] || labels.dtype() != DType::U32 {
        return Err(shape_error(argument, format!("({batch},) u32"), labels));
    }
    if batch == 0 {
        return Ok(());
    }
    let max = labels.max(0)?.to_scalar::<u32>()?;
    if max as usize >= num_classes {
        return Err(Error::LabelOutOfRange {
            argument: argument.to_string(),
            label: max as u64,
            num_classes,
        });
    }
    Ok(())
}
