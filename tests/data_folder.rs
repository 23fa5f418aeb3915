//! Tests of the image-folder reader: class order, which files count, resizing, and broken
//! folders and files under both error policies.

use std::fs;
use std::path::{Path, PathBuf};

use acgan::data::folder::*;
use acgan::Error;
use candle_core::{Device, IndexOp};
use image::{ImageFormat, Rgb, RgbImage};

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("acgan-folder-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A `width x height` image of one colour.
fn plain(width: u32, height: u32, colour: [u8; 3]) -> RgbImage {
    RgbImage::from_pixel(width, height, Rgb(colour))
}

/// Saves `image` at `root/class/name` in `format`, creating the class folder.
fn save(root: &Path, class: &str, name: &str, image: &RgbImage, format: ImageFormat) {
    let dir = root.join(class);
    fs::create_dir_all(&dir).unwrap();
    image.save_with_format(dir.join(name), format).unwrap();
}

fn config(height: usize, width: usize, channels: usize, on_error: OnError) -> ImageFolderConfig {
    ImageFolderConfig {
        height,
        width,
        channels,
        on_error,
    }
}

fn load(root: &Path, config: &ImageFolderConfig) -> acgan::Result<ImageFolder> {
    load_image_folder(root, config, &Device::Cpu)
}

/// The `Error::Format` message, after checking it names `path`.
fn format_message(err: Error, path: &Path) -> String {
    match err {
        Error::Format {
            path: found,
            message,
        } => {
            assert_eq!(found, path);
            message
        }
        other => panic!(
            "expected Error::Format for {}, got {other:?}",
            path.display()
        ),
    }
}

#[test]
fn classes_are_folders_in_sorted_order_and_only_images_count() {
    let root = temp_dir("order");
    save(
        &root,
        "zebra",
        "1.png",
        &plain(4, 4, [255, 0, 0]),
        ImageFormat::Png,
    );
    save(
        &root,
        "ant",
        "b.PNG",
        &plain(4, 4, [0, 255, 0]),
        ImageFormat::Png,
    );
    save(
        &root,
        "ant",
        "a.jpeg",
        &plain(4, 4, [0, 255, 0]),
        ImageFormat::Jpeg,
    );
    save(
        &root,
        "Bee",
        "x.JPG",
        &plain(4, 4, [0, 0, 255]),
        ImageFormat::Jpeg,
    );
    // Ignored: a text file, a hidden image, a nested folder, a file at the root, a hidden
    // class folder.
    fs::write(root.join("ant/notes.txt"), "not an image").unwrap();
    save(
        &root,
        "ant",
        ".hidden.png",
        &plain(4, 4, [9, 9, 9]),
        ImageFormat::Png,
    );
    save(
        &root,
        "ant/deeper",
        "c.png",
        &plain(4, 4, [9, 9, 9]),
        ImageFormat::Png,
    );
    plain(4, 4, [9, 9, 9]).save(root.join("stray.png")).unwrap();
    save(
        &root,
        ".cache",
        "d.png",
        &plain(4, 4, [9, 9, 9]),
        ImageFormat::Png,
    );

    let loaded = load(&root, &config(4, 4, 3, OnError::Fail)).unwrap();
    assert!(loaded.skipped.is_empty());
    let data = loaded.dataset;
    // Byte order: upper-case "B" (0x42) sorts before "a" (0x61).
    assert_eq!(data.class_names(), ["Bee", "ant", "zebra"]);
    assert_eq!(data.labels().to_vec1::<u32>().unwrap(), vec![0, 1, 1, 2]);
    assert_eq!(data.images().dims(), &[4, 3, 4, 4]);
    // The zebra image is pure red: channel 0 is 255 -> 1.0, channel 2 is 0 -> -1.0.
    let at = |idx| data.images().i(idx).unwrap().to_scalar::<f32>().unwrap();
    assert_eq!(at((3, 0, 1, 2)), 1.0);
    assert_eq!(at((3, 2, 1, 2)), -1.0);
}

#[test]
fn content_not_the_name_decides_the_decoder() {
    let root = temp_dir("content");
    // PNG bytes in a file named .jpg: lossless, so the colour is exact.
    save(
        &root,
        "a",
        "really-png.jpg",
        &plain(3, 3, [10, 20, 30]),
        ImageFormat::Png,
    );
    let data = load(&root, &config(3, 3, 3, OnError::Fail))
        .unwrap()
        .dataset;
    let pixel: Vec<f32> = (0..3)
        .map(|c| {
            data.images()
                .i((0, c, 2, 2))
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        })
        .collect();
    let expected: Vec<f32> = [10.0, 20.0, 30.0].iter().map(|v| v / 127.5 - 1.0).collect();
    assert_eq!(pixel, expected);
}

#[test]
fn images_are_resized_and_converted_to_grey() {
    let root = temp_dir("resize");
    save(
        &root,
        "a",
        "big.png",
        &plain(20, 10, [200, 200, 200]),
        ImageFormat::Png,
    );
    save(
        &root,
        "a",
        "small.png",
        &plain(2, 3, [200, 200, 200]),
        ImageFormat::Png,
    );
    let data = load(&root, &config(6, 5, 1, OnError::Fail))
        .unwrap()
        .dataset;
    assert_eq!(data.images().dims(), &[2, 1, 6, 5]);
    // A uniform grey stays that grey through any resize filter.
    let expected = 200.0 / 127.5 - 1.0;
    let values = data
        .images()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert!(
        values.iter().all(|v| (v - expected).abs() < 1e-6),
        "{values:?}"
    );
}

#[test]
fn invalid_configs_are_rejected() {
    let root = temp_dir("config");
    for bad in [
        config(8, 8, 2, OnError::Fail),
        config(0, 8, 3, OnError::Fail),
    ] {
        let err = load(&root, &bad).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err}");
    }
    let err = config(8, 70_000, 1, OnError::Skip).validate().unwrap_err();
    assert!(err.to_string().contains("(8, 70000)"), "{err}");
}

#[test]
fn empty_and_missing_roots_are_errors() {
    let root = temp_dir("empty");
    fs::write(root.join("loose.png"), b"not a folder").unwrap();
    let err = load(&root, &ImageFolderConfig::default()).unwrap_err();
    let message = format_message(err, &root);
    assert!(message.contains("no class folder"), "{message}");

    let missing = root.join("absent");
    match load(&missing, &ImageFolderConfig::default()).unwrap_err() {
        Error::Io { path, source } => {
            assert_eq!(path, missing);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

#[test]
fn class_folder_without_image_files_is_an_error() {
    let root = temp_dir("no-images");
    save(
        &root,
        "good",
        "a.png",
        &plain(2, 2, [1, 2, 3]),
        ImageFormat::Png,
    );
    fs::create_dir_all(root.join("empty")).unwrap();
    fs::write(root.join("empty/readme.txt"), "nothing here").unwrap();
    let err = load(&root, &config(2, 2, 3, OnError::Skip)).unwrap_err();
    let message = format_message(err, &root.join("empty"));
    assert!(message.contains("no .png, .jpg or .jpeg file"), "{message}");
}

/// A root with class `a` (one good image, one truncated PNG) and class `b` (one good image).
fn root_with_a_broken_file(test: &str) -> (PathBuf, PathBuf) {
    let root = temp_dir(test);
    save(
        &root,
        "a",
        "1-good.png",
        &plain(2, 2, [1, 2, 3]),
        ImageFormat::Png,
    );
    save(
        &root,
        "b",
        "good.png",
        &plain(2, 2, [4, 5, 6]),
        ImageFormat::Png,
    );
    let mut png = Vec::new();
    let image = plain(16, 16, [7, 8, 9]);
    image
        .write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png)
        .unwrap();
    let broken = root.join("a/2-broken.png");
    fs::write(&broken, &png[..png.len() / 2]).unwrap();
    (root, broken)
}

#[test]
fn fail_policy_names_the_unreadable_file() {
    let (root, broken) = root_with_a_broken_file("fail");
    let err = load(&root, &config(2, 2, 3, OnError::Fail)).unwrap_err();
    let shown = err.to_string();
    let message = format_message(err, &broken);
    assert!(message.contains("cannot decode image"), "{message}");
    assert!(shown.contains("2-broken.png"), "{shown}");
}

#[test]
fn skip_policy_reports_the_files_it_left_out() {
    let (root, broken) = root_with_a_broken_file("skip");
    fs::write(root.join("b/zero.jpg"), b"").unwrap();
    let loaded = load(&root, &config(2, 2, 3, OnError::Skip)).unwrap();
    assert_eq!(
        loaded.dataset.labels().to_vec1::<u32>().unwrap(),
        vec![0, 1]
    );
    let paths: Vec<&Path> = loaded.skipped.iter().map(|s| s.path.as_path()).collect();
    assert_eq!(
        paths,
        vec![broken.as_path(), root.join("b/zero.jpg").as_path()]
    );
    assert!(loaded.skipped.iter().all(|s| !s.reason.is_empty()));
}

#[test]
fn class_with_no_readable_image_fails_even_when_skipping() {
    let (root, broken) = root_with_a_broken_file("all-broken");
    fs::remove_file(root.join("a/1-good.png")).unwrap();
    let err = load(&root, &config(2, 2, 3, OnError::Skip)).unwrap_err();
    let message = format_message(err, &root.join("a"));
    assert!(
        message.contains("all 1 image files were skipped"),
        "{message}"
    );
    assert!(message.contains(&broken.display().to_string()), "{message}");
}
