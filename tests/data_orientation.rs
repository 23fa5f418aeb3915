//! One asymmetric picture written in every format and loaded back: red rises from left to
//! right, green marks the top quarter of the rows, blue is zero. A loader that swaps height
//! and width, flips the image or reorders the colours fails here (candle-datasets' parquet
//! CIFAR loader swaps height and width: huggingface/candle issue 2632).

use std::fs;
use std::path::{Path, PathBuf};

use acgan::data::cifar::load_cifar10_dir;
use acgan::data::folder::{load_image_folder, ImageFolderConfig, OnError};
use acgan::data::idx::load_split;
use acgan::data::Dataset;
use candle_core::Device;
use image::codecs::jpeg::JpegEncoder;
use image::{GrayImage, Luma, Rgb, RgbImage};

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("acgan-orient-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The picture at `(row, col)` of a `height x width` image, as `[red, green, blue]`.
fn colour(row: usize, col: usize, height: usize, width: usize) -> [u8; 3] {
    let red = (col * 255 / (width - 1)) as u8;
    let green = if row < height / 4 { 255 } else { 0 };
    [red, green, 0]
}

/// The picture as an RGB image of the `image` crate (which indexes by x = column, y = row).
fn rgb_picture(height: usize, width: usize) -> RgbImage {
    RgbImage::from_fn(width as u32, height as u32, |x, y| {
        Rgb(colour(y as usize, x as usize, height, width))
    })
}

/// Pixel values of image 0 back in 0..=255, indexed `[channel][row][column]`.
struct Planes(Vec<Vec<Vec<f32>>>);

impl Planes {
    fn of(data: &Dataset) -> Self {
        let image = data.images().get(0).unwrap();
        let image = ((image + 1.0).unwrap() * 127.5).unwrap();
        Planes(image.to_vec3::<f32>().unwrap())
    }

    fn at(&self, channel: usize, row: usize, col: usize) -> f32 {
        self.0[channel][row][col]
    }

    fn row(&self, channel: usize, row: usize) -> &[f32] {
        &self.0[channel][row]
    }
}

/// Checks image 0 of `data` is the picture within `tolerance` (in 0..=255 units).
fn assert_picture(data: &Dataset, height: usize, width: usize, tolerance: f32) {
    assert_eq!(data.image_dims(), (3, height, width));
    let planes = Planes::of(data);
    for row in 0..height {
        for col in 0..width {
            let expected = colour(row, col, height, width);
            for (channel, &wanted) in expected.iter().enumerate() {
                let found = planes.at(channel, row, col);
                let diff = (found - f32::from(wanted)).abs();
                assert!(
                    diff <= tolerance,
                    "channel {channel} at ({row}, {col}): {found} vs {wanted}"
                );
            }
        }
    }
}

#[test]
fn cifar_binary_keeps_orientation_and_colour_order() {
    let dir = temp_dir("cifar");
    // Record: label 4, then the red plane row by row, then green, then blue.
    let mut record = vec![4u8];
    for channel in 0..3 {
        for row in 0..32 {
            record.extend((0..32).map(|col| colour(row, col, 32, 32)[channel]));
        }
    }
    fs::write(dir.join("data_batch_1.bin"), &record).unwrap();
    fs::write(dir.join("test_batch.bin"), &record).unwrap();
    let data = load_cifar10_dir(&dir, &Device::Cpu).unwrap();
    assert_picture(&data.train, 32, 32, 1e-3);
    // Spot checks by hand: top-right is red 255 and green 255; bottom-left is all zero.
    let planes = Planes::of(&data.test);
    assert!((planes.at(0, 0, 31) - 255.0).abs() < 1e-3);
    assert!((planes.at(1, 0, 31) - 255.0).abs() < 1e-3);
    assert!((0..3).all(|channel| planes.at(channel, 31, 0).abs() < 1e-3));
}

/// Writes the picture as `root/only/picture.<extension>` with `write`.
fn folder_with(test: &str, name: &str, write: impl FnOnce(&Path)) -> PathBuf {
    let root = temp_dir(test);
    fs::create_dir_all(root.join("only")).unwrap();
    write(&root.join("only").join(name));
    root
}

fn load_rgb(root: &Path, height: usize, width: usize) -> Dataset {
    let config = ImageFolderConfig {
        height,
        width,
        channels: 3,
        on_error: OnError::Fail,
    };
    load_image_folder(root, &config, &Device::Cpu)
        .unwrap()
        .dataset
}

#[test]
fn png_keeps_orientation_and_colour_order() {
    // 24 rows x 40 columns: not square, so a swap of height and width cannot pass.
    let root = folder_with("png", "picture.png", |path| {
        rgb_picture(24, 40).save(path).unwrap();
    });
    assert_picture(&load_rgb(&root, 24, 40), 24, 40, 1e-3);
}

#[test]
fn jpeg_keeps_orientation_and_colour_order() {
    let root = folder_with("jpeg", "picture.jpg", |path| {
        let file = fs::File::create(path).unwrap();
        let picture = rgb_picture(24, 40);
        JpegEncoder::new_with_quality(file, 100)
            .encode_image(&picture)
            .unwrap();
    });
    let data = load_rgb(&root, 24, 40);
    assert_eq!(data.image_dims(), (3, 24, 40));
    // JPEG is lossy, worst at the sharp green edge and in subsampled colour: check rows
    // away from the edge, loosely, and that red rises along every such row.
    let planes = Planes::of(&data);
    for row in (0..3).chain(9..24) {
        for col in 0..40 {
            let expected = colour(row, col, 24, 40);
            for (channel, &wanted) in expected.iter().enumerate() {
                let diff = (planes.at(channel, row, col) - f32::from(wanted)).abs();
                assert!(
                    diff < 40.0,
                    "channel {channel} at ({row}, {col}): off by {diff}"
                );
            }
        }
        assert!(
            planes.at(0, row, 39) - planes.at(0, row, 0) > 200.0,
            "row {row}"
        );
    }
}

#[test]
fn resizing_keeps_orientation() {
    let root = folder_with("resize", "picture.png", |path| {
        rgb_picture(24, 40).save(path).unwrap();
    });
    // Halved to 12 x 20: red still rises to the right, green still marks the top rows.
    let planes = Planes::of(&load_rgb(&root, 12, 20));
    for row in 0..12 {
        let red = planes.row(0, row);
        assert!(red[0] < 10.0 && red[19] > 245.0, "row {row}");
        assert!(red.windows(2).all(|pair| pair[0] <= pair[1]), "row {row}");
        assert!(planes.row(2, row).iter().all(|&b| b < 1.0), "row {row}");
    }
    assert!(planes.row(1, 0).iter().all(|&g| g > 245.0));
    assert!(planes.row(1, 11).iter().all(|&g| g < 10.0));
}

/// The grey picture: the red channel of the colour one plus the green marker, halved.
fn grey(row: usize, col: usize, height: usize, width: usize) -> u8 {
    let [red, green, _] = colour(row, col, height, width);
    red / 2 + green / 2
}

fn assert_grey_picture(data: &Dataset, height: usize, width: usize) {
    assert_eq!(data.image_dims(), (1, height, width));
    let planes = Planes::of(data);
    for row in 0..height {
        for (col, &found) in planes.row(0, row).iter().enumerate() {
            let expected = f32::from(grey(row, col, height, width));
            assert!(
                (found - expected).abs() < 1e-3,
                "({row}, {col}): {found} vs {expected}"
            );
        }
    }
}

#[test]
fn grey_png_keeps_orientation() {
    let root = folder_with("grey", "picture.png", |path| {
        let picture =
            GrayImage::from_fn(40, 24, |x, y| Luma([grey(y as usize, x as usize, 24, 40)]));
        picture.save(path).unwrap();
    });
    let config = ImageFolderConfig {
        height: 24,
        width: 40,
        channels: 1,
        on_error: OnError::Fail,
    };
    let data = load_image_folder(&root, &config, &Device::Cpu)
        .unwrap()
        .dataset;
    assert_grey_picture(&data, 24, 40);
}

/// An IDX image file holding the grey picture, header written by hand.
fn idx_images(height: usize, width: usize) -> Vec<u8> {
    let mut bytes = vec![
        0,
        0,
        8,
        3,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        height as u8,
        0,
        0,
        0,
        width as u8,
    ];
    for row in 0..height {
        bytes.extend((0..width).map(|col| grey(row, col, height, width)));
    }
    bytes
}

#[test]
fn idx_keeps_orientation() {
    let dir = temp_dir("idx");
    let labels = [0, 0, 8, 1, 0, 0, 0, 1, 2];
    for prefix in ["train", "t10k"] {
        fs::write(
            dir.join(format!("{prefix}-images-idx3-ubyte")),
            idx_images(8, 12),
        )
        .unwrap();
        fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
    let data = load_split(&dir, &["a", "b", "c"], &Device::Cpu).unwrap();
    assert_grey_picture(&data.train, 8, 12);
    assert_grey_picture(&data.test, 8, 12);
    assert_eq!(data.test.labels().to_vec1::<u32>().unwrap(), vec![2]);
}
