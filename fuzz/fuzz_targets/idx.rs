//! Feeds arbitrary bytes, plain or gzip, to the IDX image and label parsers. Any outcome but
//! a panic, an abort or an allocation beyond what the bytes can hold is a pass; a parsed
//! file must also be self-consistent.
#![no_main]

use acgan::data::idx::{parse_images, parse_labels};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(images) = parse_images(data, "fuzz-images") {
        assert_eq!(images.pixels.len(), images.count * images.rows * images.cols);
    }
    if let Ok(labels) = parse_labels(data, "fuzz-labels") {
        assert!(labels.len() <= data.len() || data.starts_with(&[0x1f, 0x8b]));
    }
});
