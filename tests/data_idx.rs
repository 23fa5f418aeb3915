//! Tests of the IDX functions added for datasets: parsing from memory, and loading a folder
//! into a `Split` with class names. The reader's bad-input tests are in `tests/idx.rs`.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use acgan::data::idx::*;
use acgan::Error;
use candle_core::Device;
use flate2::write::GzEncoder;
use flate2::Compression;

/// Two images of 2 rows x 3 columns, header and pixels written by hand.
const TWO_IMAGES: [u8; 28] = [
    0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, // magic, count 2, rows 2, cols 3
    1, 2, 3, 4, 5, 6, 250, 251, 252, 253, 254, 255,
];

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn parse_reads_plain_and_gzip_bytes() {
    for bytes in [TWO_IMAGES.to_vec(), gzip(&TWO_IMAGES)] {
        let images = parse_images(&bytes, "memory").unwrap();
        assert_eq!((images.count, images.rows, images.cols), (2, 2, 3));
        assert_eq!(images.pixels, TWO_IMAGES[16..].to_vec());
    }
    let labels = [0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9];
    assert_eq!(parse_labels(&labels, "l").unwrap(), vec![7, 0, 9]);
    assert_eq!(parse_labels(&gzip(&labels), "l").unwrap(), vec![7, 0, 9]);
}

#[test]
fn parse_errors_name_the_given_source() {
    let err = parse_images(&TWO_IMAGES[..20], "my-upload").unwrap_err();
    let shown = err.to_string();
    let Error::Format { path, message } = err else {
        panic!("expected Error::Format, got {err:?}");
    };
    assert_eq!(path, PathBuf::from("my-upload"));
    assert!(shown.starts_with("my-upload: "), "{shown}");
    assert!(
        message.contains("= 12 bytes of pixels, file has 4"),
        "{message}"
    );
    // The gzip stream of the same truncated data: the decompressed length is short.
    let err = parse_images(&gzip(&TWO_IMAGES[..20]), "z").unwrap_err();
    assert!(err.to_string().contains("decompressed data has 4"), "{err}");
    assert!(parse_labels(&[], "empty").is_err());
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("acgan-didx-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// An MNIST folder with the two hand-built images in both halves and the given labels.
fn mnist_dir(test: &str, labels: [u8; 2]) -> PathBuf {
    let dir = temp_dir(test);
    let label_file = [0, 0, 8, 1, 0, 0, 0, 2, labels[0], labels[1]];
    for prefix in ["train", "t10k"] {
        fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), TWO_IMAGES).unwrap();
        fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), label_file).unwrap();
    }
    dir
}

#[test]
fn load_split_names_classes_and_checks_labels_against_them() {
    let dir = mnist_dir("split", [2, 0]);
    let data = load_split(&dir, &["zero", "one", "two"], &Device::Cpu).unwrap();
    assert_eq!(data.train.images().dims(), &[2, 1, 2, 3]);
    assert_eq!(data.train.labels().to_vec1::<u32>().unwrap(), vec![2, 0]);
    assert_eq!(data.test.class_names(), ["zero", "one", "two"]);
    // Pixel 255 (image 1, row 1, column 2) is 1.0; pixel 1 is 1 / 127.5 - 1.
    let values = data
        .test
        .images()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(values[11], 1.0);
    assert!((values[0] - (1.0 / 127.5 - 1.0)).abs() < 1e-6);

    let err = load_split(&dir, &["zero", "one"], &Device::Cpu).unwrap_err();
    assert!(
        err.to_string()
            .contains("label 2 at index 0 is not below 2"),
        "{err}"
    );
}

#[test]
fn class_name_lists_have_ten_names() {
    assert_eq!(DIGIT_CLASSES.join(""), "0123456789");
    assert_eq!(FASHION_MNIST_CLASSES.len(), 10);
    assert_eq!(FASHION_MNIST_CLASSES[0], "T-shirt/top");
    assert_eq!(FASHION_MNIST_CLASSES[7], "Sneaker");
}
