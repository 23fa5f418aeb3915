//! Tests of the IDX reader and writer against bytes written by hand, and of the bundled
//! `data/mnist-5k` set against the counts stated in its SOURCE.md.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use acgan::data::idx::*;
use acgan::Error;
use candle_core::{DType, Device, IndexOp, Tensor};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

/// Two images of 3 rows x 2 columns, as they lie in the file (image, row, column order).
const PIXELS: [u8; 12] = [0, 1, 2, 3, 4, 255, 10, 20, 30, 40, 50, 60];

/// The same pixels as nested `[image][row][column]`, written out by hand.
const NESTED: [[[u8; 2]; 3]; 2] = [[[0, 1], [2, 3], [4, 255]], [[10, 20], [30, 40], [50, 60]]];

/// A fresh empty folder for one test.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("acgan-idx-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// An image-file header: magic 0x00000803 then the three sizes, big-endian.
fn image_header(count: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0x08, 0x03];
    for dim in [count, rows, cols] {
        bytes.extend_from_slice(&dim.to_be_bytes());
    }
    bytes
}

/// A label file: magic 0x00000801, the count, the labels.
fn label_bytes(labels: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0x08, 0x01];
    bytes.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    bytes.extend_from_slice(labels);
    bytes
}

/// The hand-built two-image file.
fn two_images_bytes() -> Vec<u8> {
    let bytes = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2];
    [&bytes[..], &PIXELS[..]].concat()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    path
}

/// The message of an `Error::Format`, after checking it names `file` (path and display).
fn format_message(err: Error, file: &str) -> String {
    let shown = err.to_string();
    match err {
        Error::Format { path, message } => {
            assert!(path.ends_with(file), "{path:?} is not {file}");
            assert!(shown.contains(file), "{shown:?} does not name {file}");
            message
        }
        other => panic!("expected Error::Format for {file}, got {other:?}"),
    }
}

fn assert_contains(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "{message:?} does not contain {part:?}"
        );
    }
}

/// Checks `images` is the hand-built pair, position by position.
fn assert_two_images(images: &IdxImages) {
    assert_eq!((images.count, images.rows, images.cols), (2, 3, 2));
    for (i, image) in NESTED.iter().enumerate() {
        for (r, row) in image.iter().enumerate() {
            for (c, &p) in row.iter().enumerate() {
                assert_eq!(
                    images.pixels[(i * 3 + r) * 2 + c],
                    p,
                    "image {i} ({r}, {c})"
                );
            }
        }
    }
}

#[test]
fn hand_built_file_reads_exact_pixels_and_tensor() {
    let dir = temp_dir("hand-built");
    let path = write(&dir, "images", &two_images_bytes());
    let images = read_images(&path).unwrap();
    assert_two_images(&images);

    let tensor = images_to_tensor(&images, &Device::Cpu).unwrap();
    assert_eq!(tensor.dims(), &[2, 1, 3, 2]);
    assert_eq!(tensor.dtype(), DType::F32);
    let values = tensor.squeeze(1).unwrap().to_vec3::<f32>().unwrap();
    for (i, image) in NESTED.iter().enumerate() {
        for (r, row) in image.iter().enumerate() {
            for (c, &p) in row.iter().enumerate() {
                let expected = p as f32 / 127.5 - 1.0;
                assert!(
                    (values[i][r][c] - expected).abs() < 1e-6,
                    "image {i} ({r}, {c})"
                );
            }
        }
    }
    // Spot values by hand: 255 -> 1, 0 -> -1, 20 -> 20/127.5 - 1 = -0.843137...
    let at = |i, r, c| tensor.i((i, 0, r, c)).unwrap().to_scalar::<f32>().unwrap();
    assert_eq!(at(0, 2, 1), 1.0);
    assert_eq!(at(0, 0, 0), -1.0);
    assert!((at(1, 0, 1) + 0.843_137_25).abs() < 1e-6);
}

#[test]
fn gzip_is_detected_by_content_not_name() {
    let dir = temp_dir("gzip-detect");
    let compressed = gzip(&two_images_bytes());
    assert_eq!(&compressed[..2], &[0x1f, 0x8b]);
    assert_two_images(&read_images(write(&dir, "a.gz", &compressed)).unwrap());
    // Compressed without the suffix, and plain with it: both still read.
    assert_two_images(&read_images(write(&dir, "b", &compressed)).unwrap());
    assert_two_images(&read_images(write(&dir, "c.gz", &two_images_bytes())).unwrap());

    let labels = label_bytes(&[3, 1, 4]);
    let path = write(&dir, "labels.gz", &gzip(&labels));
    assert_eq!(read_labels(path).unwrap(), vec![3, 1, 4]);
}

#[test]
fn wrong_magic_is_reported_in_hex() {
    let dir = temp_dir("wrong-magic");
    let mut bytes = two_images_bytes();
    bytes[..2].copy_from_slice(&[0x12, 0x34]);
    let err = read_images(write(&dir, "magic", &bytes)).unwrap_err();
    let message = format_message(err, "magic");
    assert_contains(&message, &["expected 0x00000803", "found 0x12340803"]);
}

#[test]
fn wrong_type_byte_is_named() {
    let dir = temp_dir("wrong-type");
    let mut bytes = two_images_bytes();
    bytes[2] = 0x0d;
    let err = read_images(write(&dir, "floats", &bytes)).unwrap_err();
    let message = format_message(err, "floats");
    assert_contains(
        &message,
        &["found 0x00000d03", "0x0d", "float", "only 0x08"],
    );
}

#[test]
fn label_file_read_as_images_and_back_is_rejected() {
    let dir = temp_dir("wrong-dims");
    let labels = write(&dir, "labels", &label_bytes(&[1, 2]));
    let message = format_message(read_images(&labels).unwrap_err(), "labels");
    assert_contains(
        &message,
        &["expected 0x00000803", "found 0x00000801", "has 1 dimension"],
    );

    let images = write(&dir, "images", &two_images_bytes());
    let message = format_message(read_labels(&images).unwrap_err(), "images");
    assert_contains(
        &message,
        &[
            "expected 0x00000801",
            "found 0x00000803",
            "has 3 dimensions",
        ],
    );
}

#[test]
fn dimensions_whose_product_overflows_are_rejected() {
    let dir = temp_dir("overflow");
    let bytes = image_header(u32::MAX, u32::MAX, u32::MAX);
    let err = read_images(write(&dir, "huge", &bytes)).unwrap_err();
    let message = format_message(err, "huge");
    assert_contains(
        &message,
        &["dimensions 4294967295 x 4294967295 x 4294967295 overflow usize"],
    );
}

#[test]
fn header_claiming_more_than_the_file_fails_without_allocating() {
    let dir = temp_dir("claim");
    // 10^12 bytes claimed, 4 present: allocating the claim would abort the test process.
    let bytes = [image_header(1_000_000, 1000, 1000), vec![1, 2, 3, 4]].concat();
    assert_eq!(bytes.len(), 20);
    let message = format_message(
        read_images(write(&dir, "claim", &bytes)).unwrap_err(),
        "claim",
    );
    let claim = "header says 1000000 x 1000 x 1000 = 1000000000000 bytes of pixels";
    assert_contains(&message, &[claim, "file has 4 after the header"]);

    let path = write(&dir, "claim.gz", &gzip(&bytes));
    let message = format_message(read_images(path).unwrap_err(), "claim.gz");
    assert_contains(
        &message,
        &[claim, "decompressed data has 4 after the header"],
    );
}

#[test]
fn truncated_and_overlong_plain_files_are_rejected() {
    let dir = temp_dir("truncated-plain");
    let bytes = two_images_bytes();
    let short = write(&dir, "short", &bytes[..16 + 7]);
    let message = format_message(read_images(short).unwrap_err(), "short");
    assert_contains(
        &message,
        &[
            "2 x 3 x 2 = 12 bytes of pixels",
            "file has 7 after the header",
        ],
    );

    let long = write(&dir, "long", &[&bytes[..], &[9]].concat());
    let message = format_message(read_images(long).unwrap_err(), "long");
    assert_contains(
        &message,
        &["= 12 bytes of pixels", "file has 13 after the header"],
    );

    let in_header = write(&dir, "in-header", &bytes[..10]);
    let message = format_message(read_images(in_header).unwrap_err(), "in-header");
    assert_contains(&message, &["inside the IDX header", "dimension 1"]);

    let labels = write(&dir, "labels", &label_bytes(&[1, 2, 3])[..10]);
    let message = format_message(read_labels(labels).unwrap_err(), "labels");
    assert_contains(
        &message,
        &[
            "header says 3 bytes of labels",
            "file has 2 after the header",
        ],
    );
}

#[test]
fn truncated_gzip_stream_is_a_format_error() {
    let dir = temp_dir("truncated-gzip");
    // 10 images of 28 x 28 with a varied pattern, so the deflate body is long.
    let pixels: Vec<u8> = (0..10 * 784u32).map(|i| (i * 7 % 251) as u8).collect();
    let compressed = gzip(&[image_header(10, 28, 28), pixels].concat());
    let half = write(&dir, "half.gz", &compressed[..compressed.len() / 2]);
    let message = format_message(read_images(half).unwrap_err(), "half.gz");
    assert_contains(&message, &["gzip stream is corrupt or truncated"]);
}

/// Writes an MNIST folder with 2 train and 1 test image of 3 x 2 pixels.
fn write_mnist_dir(test: &str, train_labels: &[u8], test_labels: &[u8]) -> PathBuf {
    let dir = temp_dir(test);
    write(&dir, "train-images-idx3-ubyte", &two_images_bytes());
    write(&dir, "train-labels-idx1-ubyte", &label_bytes(train_labels));
    let test_images = [image_header(1, 3, 2), vec![6, 5, 4, 3, 2, 1]].concat();
    write(&dir, "t10k-images-idx3-ubyte.gz", &gzip(&test_images));
    write(&dir, "t10k-labels-idx1-ubyte", &label_bytes(test_labels));
    dir
}

#[test]
fn small_mnist_dir_loads() {
    let dir = write_mnist_dir("mnist-ok", &[4, 0], &[2]);
    let data = load_mnist_dir(&dir, 5, &Device::Cpu).unwrap();
    assert_eq!(data.train_images.dims(), &[2, 1, 3, 2]);
    assert_eq!(data.test_images.dims(), &[1, 1, 3, 2]);
    assert_eq!(data.train_labels.to_vec1::<u32>().unwrap(), vec![4, 0]);
    assert_eq!(data.test_labels.to_vec1::<u32>().unwrap(), vec![2]);
    // Test pixel (0, 0) is 6: 6 / 127.5 - 1.
    let first = data
        .test_images
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()[0];
    assert!((first - (6.0 / 127.5 - 1.0)).abs() < 1e-6);
}

#[test]
fn label_count_must_match_image_count() {
    let dir = write_mnist_dir("mnist-count", &[1, 2, 3], &[0]);
    let err = load_mnist_dir(&dir, 10, &Device::Cpu).unwrap_err();
    let message = format_message(err, "train-labels-idx1-ubyte");
    assert_contains(
        &message,
        &["has 3 labels", "train-images-idx3-ubyte has 2 images"],
    );
}

#[test]
fn label_not_below_num_classes_is_named_with_its_index() {
    let dir = write_mnist_dir("mnist-range", &[1, 0], &[7]);
    let err = load_mnist_dir(&dir, 5, &Device::Cpu).unwrap_err();
    let message = format_message(err, "t10k-labels-idx1-ubyte");
    assert_contains(&message, &["label 7 at index 0", "not below 5"]);

    let dir = write_mnist_dir("mnist-range-train", &[3, 12], &[0]);
    let err = load_mnist_dir(&dir, 10, &Device::Cpu).unwrap_err();
    let message = format_message(err, "train-labels-idx1-ubyte");
    assert_contains(&message, &["label 12 at index 1", "not below 10"]);
}

#[test]
fn train_and_test_image_sizes_must_agree() {
    let dir = write_mnist_dir("mnist-size", &[1, 0], &[0]);
    let test_images = [image_header(1, 2, 3), vec![0; 6]].concat();
    write(&dir, "t10k-images-idx3-ubyte", &test_images);
    let err = load_mnist_dir(&dir, 10, &Device::Cpu).unwrap_err();
    // The plain file is preferred over the .gz one written beside it.
    let message = format_message(err, "t10k-images-idx3-ubyte");
    assert_contains(&message, &["images are 2 x 3", "are 3 x 2"]);
}

#[test]
fn missing_file_is_a_not_found_error_naming_both_names() {
    let dir = write_mnist_dir("mnist-missing", &[1, 0], &[0]);
    fs::remove_file(dir.join("t10k-labels-idx1-ubyte")).unwrap();
    let err = load_mnist_dir(&dir, 10, &Device::Cpu).unwrap_err();
    let shown = err.to_string();
    let Error::Io { path, source } = err else {
        panic!("expected Error::Io, got {err:?}");
    };
    assert!(path.ends_with("t10k-labels-idx1-ubyte"));
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    assert_contains(
        &shown,
        &["t10k-labels-idx1-ubyte nor t10k-labels-idx1-ubyte.gz"],
    );

    let err = read_images(dir.join("absent")).unwrap_err();
    let Error::Io { path, source } = err else {
        panic!("expected Error::Io, got {err:?}");
    };
    assert!(path.ends_with("absent"));
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
}

fn bundled(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/mnist-5k")
        .join(name)
}

#[test]
fn bundled_mnist_5k_matches_its_source_notes() {
    let data = load_mnist_dir(bundled(""), 10, &Device::Cpu).unwrap();
    assert_eq!(data.train_images.dims(), &[4000, 1, 28, 28]);
    assert_eq!(data.test_images.dims(), &[1000, 1, 28, 28]);
    for images in [&data.train_images, &data.test_images] {
        assert!(images.min_all().unwrap().to_scalar::<f32>().unwrap() >= -1.0);
        assert!(images.max_all().unwrap().to_scalar::<f32>().unwrap() <= 1.0);
    }
    // SOURCE.md: 400 (train) and 100 (t10k) per class, interleaved 0, 1, ..., 9, 0, ...
    for (labels, per_class) in [(&data.train_labels, 400), (&data.test_labels, 100)] {
        let labels = labels.to_vec1::<u32>().unwrap();
        assert_eq!(labels.len(), per_class * 10);
        for class in 0..10u32 {
            assert_eq!(labels.iter().filter(|&&l| l == class).count(), per_class);
        }
        assert!(labels
            .iter()
            .enumerate()
            .all(|(i, &l)| l as usize == i % 10));
    }
    assert_first_image_sum(&data.train_images);
}

/// Image 0's pixel sum, from the bytes decompressed here, against the loaded tensor.
fn assert_first_image_sum(train_images: &Tensor) {
    let mut bytes = Vec::new();
    let file = fs::File::open(bundled("train-images-idx3-ubyte.gz")).unwrap();
    GzDecoder::new(file).read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes.len(), 3_136_016); // SOURCE.md: decompressed size
    assert_eq!(&bytes[..16], &image_header(4000, 28, 28)[..]);
    let sum: u64 = bytes[16..16 + 784].iter().map(|&p| u64::from(p)).sum();
    assert!(sum > 0);
    // Each value is p / 127.5 - 1, so the values sum to sum / 127.5 - 784.
    let expected = sum as f64 / 127.5 - 784.0;
    let found = train_images
        .i(0)
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(
        (f64::from(found) - expected).abs() < 1e-2,
        "{found} vs {expected}"
    );
}

#[test]
fn write_then_read_round_trips_with_hand_checked_bytes() {
    let dir = temp_dir("round-trip");
    let images = IdxImages {
        count: 2,
        rows: 3,
        cols: 2,
        pixels: PIXELS.to_vec(),
    };
    let path = dir.join("images");
    write_images(&path, &images).unwrap();
    assert_eq!(fs::read(&path).unwrap(), two_images_bytes());
    assert_eq!(read_images(&path).unwrap(), images);

    let path = dir.join("labels");
    write_labels(&path, &[3, 1, 4, 1, 5]).unwrap();
    assert_eq!(
        fs::read(&path).unwrap(),
        vec![0, 0, 8, 1, 0, 0, 0, 5, 3, 1, 4, 1, 5]
    );
    assert_eq!(read_labels(&path).unwrap(), vec![3, 1, 4, 1, 5]);
}

#[test]
fn write_images_rejects_a_wrong_pixel_count() {
    let dir = temp_dir("write-bad");
    let images = IdxImages {
        count: 2,
        rows: 3,
        cols: 2,
        pixels: vec![0; 11],
    };
    let err = write_images(dir.join("bad"), &images).unwrap_err();
    let message = format_message(err, "bad");
    assert_contains(&message, &["2 x 3 x 2 = 12 pixels", "holds 11"]);
    assert!(!dir.join("bad").exists());
}

#[test]
fn tensor_to_images_maps_minus_one_zero_one_to_0_128_255() {
    // 0 maps to (0 + 1) * 127.5 = 127.5 exactly, and f32::round takes halves away from
    // zero, so it becomes 128 (not 127). Values outside [-1, 1] are clamped.
    let tensor = Tensor::new(&[-1.0f32, 0.0, 1.0, -3.0, 2.5], &Device::Cpu).unwrap();
    let images = tensor_to_images(&tensor.reshape((1, 1, 1, 5)).unwrap()).unwrap();
    assert_eq!((images.count, images.rows, images.cols), (1, 1, 5));
    assert_eq!(images.pixels, vec![0, 128, 255, 0, 255]);
}

#[test]
fn every_pixel_value_survives_tensor_and_back() {
    let images = IdxImages {
        count: 1,
        rows: 16,
        cols: 16,
        pixels: (0..=255).collect(),
    };
    let tensor = images_to_tensor(&images, &Device::Cpu).unwrap();
    assert_eq!(tensor_to_images(&tensor).unwrap(), images);
}

#[test]
fn tensor_to_images_rejects_wrong_rank_or_channels() {
    for dims in [vec![2, 3, 4, 4], vec![4, 4], vec![1, 1, 1, 1, 1]] {
        let tensor = Tensor::zeros(dims.as_slice(), DType::F32, &Device::Cpu).unwrap();
        match tensor_to_images(&tensor) {
            Err(Error::Shape { found, dtype, .. }) => {
                assert_eq!(found, dims);
                assert_eq!(dtype, DType::F32);
            }
            other => panic!("expected Error::Shape for {dims:?}, got {other:?}"),
        }
    }
    let integers = Tensor::zeros((1, 1, 2, 2), DType::U8, &Device::Cpu).unwrap();
    assert!(matches!(
        tensor_to_images(&integers),
        Err(Error::Shape { .. })
    ));
}
