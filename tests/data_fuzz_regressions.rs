//! Inputs the fuzz targets in `fuzz/` found interesting, kept as regression tests: each file
//! under `tests/fixtures/fuzz/idx/` and `tests/fixtures/fuzz/cifar/` is malformed, and its
//! reader must return an error (a panic or an abort fails the test).

use std::fs;
use std::path::{Path, PathBuf};

use acgan::data::cifar::{parse_records, Cifar100Labels, CifarFormat};
use acgan::data::idx::{parse_images, parse_labels};

/// The files of `tests/fixtures/fuzz/<target>`, sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    files
}

#[test]
fn idx_inputs_are_rejected_without_panicking() {
    for path in inputs("idx") {
        let bytes = fs::read(&path).unwrap();
        assert!(
            parse_images(&bytes, &path).is_err(),
            "{} parsed as images",
            path.display()
        );
        assert!(
            parse_labels(&bytes, &path).is_err(),
            "{} parsed as labels",
            path.display()
        );
    }
}

#[test]
fn cifar_inputs_are_rejected_without_panicking() {
    let formats = [
        CifarFormat::Cifar10,
        CifarFormat::Cifar100(Cifar100Labels::Coarse),
        CifarFormat::Cifar100(Cifar100Labels::Fine),
    ];
    for path in inputs("cifar") {
        let bytes = fs::read(&path).unwrap();
        for format in formats {
            let parsed = parse_records(&bytes, format, &path);
            assert!(parsed.is_err(), "{} parsed as {format:?}", path.display());
        }
    }
}
