//! Tiling a batch of images into one picture, e.g. a sample grid with one row per class.

use candle_core::{DType, Tensor};

use crate::{Error, Result};

/// An 8-bit picture, row-major, channels interleaved (grey or RGB), ready for any image
/// encoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// `height * width * channels` bytes.
    pub pixels: Vec<u8>,
}

/// Tiles images row by row, `columns` per row, with `gap` pixels of black between tiles.
/// Values in [-1, 1] map to 0..=255 (`round((x + 1) * 127.5)`, clamped).
///
/// # Shapes
/// - `images`: `(n, channels, height, width)` float, channels 1 or 3; `n` need not fill the
///   last row
pub fn tile(images: &Tensor, columns: usize, gap: usize) -> Result<Picture> {
    let (n, c, h, w) = match images.dims() {
        &[n, c, h, w] if (c == 1 || c == 3) && images.dtype().is_float() => (n, c, h, w),
        _ => {
            return Err(Error::Shape {
                argument: "grid::tile images".into(),
                expected: "(n, 1 or 3, height, width) float".into(),
                found: images.dims().to_vec(),
                dtype: images.dtype(),
            })
        }
    };
    if columns == 0 {
        return Err(Error::config("grid::tile", "columns must be positive"));
    }
    let rows = n.div_ceil(columns);
    let width = columns * w + columns.saturating_sub(1) * gap;
    let height = rows * h + rows.saturating_sub(1) * gap;
    let values = images
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let mut pixels = vec![0u8; width * height * c];
    for (i, image) in values.chunks_exact(c * h * w).enumerate() {
        let (top, left) = ((i / columns) * (h + gap), (i % columns) * (w + gap));
        for (ch, plane) in image.chunks_exact(h * w).enumerate() {
            for (y, row) in plane.chunks_exact(w).enumerate() {
                let start = ((top + y) * width + left) * c + ch;
                for (x, &v) in row.iter().enumerate() {
                    pixels[start + x * c] = to_byte(v);
                }
            }
        }
    }
    Ok(Picture {
        width,
        height,
        channels: c,
        pixels,
    })
}

/// `round((x + 1) * 127.5)` clamped to 0..=255; NaN maps to 0.
pub fn to_byte(x: f32) -> u8 {
    ((x + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8
}
