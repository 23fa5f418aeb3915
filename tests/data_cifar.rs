//! Tests of the CIFAR-10 and CIFAR-100 binary readers against records written by hand, bad
//! files, and the bundled `data/cifar10-sample` against the counts in its SOURCE.md.

use std::fs;
use std::path::{Path, PathBuf};

use acgan::data::cifar::*;
use acgan::Error;
use candle_core::{Device, IndexOp};

/// A fresh empty folder for one test.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("acgan-cifar-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Pixel byte `(image, channel, row, column)` of the hand-built records: distinct enough
/// that a misplaced byte shows.
fn pixel(image: usize, channel: usize, row: usize, col: usize) -> u8 {
    ((image * 101 + channel * 61 + row * 7 + col * 3) % 256) as u8
}

/// One record: the label bytes, then planes R, G, B of 32 rows of 32 bytes.
fn record(image: usize, labels: &[u8]) -> Vec<u8> {
    let mut bytes = labels.to_vec();
    for channel in 0..3 {
        for row in 0..32 {
            bytes.extend((0..32).map(|col| pixel(image, channel, row, col)));
        }
    }
    bytes
}

/// CIFAR-10 records for images `first..first + labels.len()`.
fn cifar10_bytes(first: usize, labels: &[u8]) -> Vec<u8> {
    let records = labels.iter().enumerate();
    records
        .flat_map(|(i, &l)| record(first + i, &[l]))
        .collect()
}

fn format_message(err: Error, file: &str) -> String {
    match err {
        Error::Format { path, message } => {
            assert!(path.ends_with(file), "{path:?} is not {file}");
            message
        }
        other => panic!("expected Error::Format for {file}, got {other:?}"),
    }
}

fn assert_contains(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

#[test]
fn record_sizes_and_class_counts() {
    assert_eq!(IMAGE_BYTES, 3072);
    assert_eq!(CifarFormat::Cifar10.record_len(), 3073);
    let coarse = CifarFormat::Cifar100(Cifar100Labels::Coarse);
    let fine = CifarFormat::Cifar100(Cifar100Labels::Fine);
    assert_eq!(coarse.record_len(), 3074);
    assert_eq!(fine.record_len(), 3074);
    assert_eq!(CifarFormat::Cifar10.num_classes(), 10);
    assert_eq!(coarse.num_classes(), 20);
    assert_eq!(fine.num_classes(), 100);
}

#[test]
fn hand_built_cifar10_records_parse_byte_for_byte() {
    let bytes = cifar10_bytes(0, &[7, 0]);
    assert_eq!(bytes.len(), 2 * 3073);
    let records = parse_records(&bytes, CifarFormat::Cifar10, "two").unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records.labels, vec![7, 0]);
    // Pixel (i, ch, r, c) is at ((i * 3 + ch) * 32 + r) * 32 + c, as the docs say.
    for (i, ch, r, c) in [(0, 0, 0, 0), (0, 2, 31, 5), (1, 1, 4, 30), (1, 0, 31, 31)] {
        let at = ((i * 3 + ch) * 32 + r) * 32 + c;
        assert_eq!(
            records.pixels[at],
            pixel(i, ch, r, c),
            "({i}, {ch}, {r}, {c})"
        );
    }
    // Record 1's first red byte sits right after record 1's label byte, at 3073 + 1.
    assert_eq!(records.pixels[3072], bytes[3074]);
}

#[test]
fn cifar100_keeps_the_coarse_or_the_fine_label() {
    let bytes = [record(0, &[3, 57]), record(1, &[19, 99])].concat();
    let coarse = CifarFormat::Cifar100(Cifar100Labels::Coarse);
    let fine = CifarFormat::Cifar100(Cifar100Labels::Fine);
    assert_eq!(
        parse_records(&bytes, coarse, "c").unwrap().labels,
        vec![3, 19]
    );
    let records = parse_records(&bytes, fine, "f").unwrap();
    assert_eq!(records.labels, vec![57, 99]);
    assert_eq!(records.pixels[0], pixel(0, 0, 0, 0));
    assert_eq!(records.pixels[3072 + 2 * 1024 + 32], pixel(1, 2, 1, 0));
}

#[test]
fn cifar10_folder_joins_the_batches_present_in_order() {
    let dir = temp_dir("folder");
    fs::write(dir.join("data_batch_1.bin"), cifar10_bytes(0, &[1, 2])).unwrap();
    fs::write(dir.join("data_batch_3.bin"), cifar10_bytes(2, &[9])).unwrap();
    fs::write(dir.join("test_batch.bin"), cifar10_bytes(3, &[4])).unwrap();
    let data = load_cifar10_dir(&dir, &Device::Cpu).unwrap();
    assert_eq!(data.train.images().dims(), &[3, 3, 32, 32]);
    assert_eq!(data.train.labels().to_vec1::<u32>().unwrap(), vec![1, 2, 9]);
    assert_eq!(data.test.labels().to_vec1::<u32>().unwrap(), vec![4]);
    // No batches.meta.txt: the standard names.
    assert_eq!(data.train.class_names()[9], "truck");
    // Image 2 (from data_batch_3) at green (row 5, column 6), and image 3 (the test one).
    let value = |t: &candle_core::Tensor, idx| t.i(idx).unwrap().to_scalar::<f32>().unwrap();
    let expected = f32::from(pixel(2, 1, 5, 6)) / 127.5 - 1.0;
    assert!((value(data.train.images(), (2, 1, 5, 6)) - expected).abs() < 1e-6);
    let expected = f32::from(pixel(3, 2, 31, 0)) / 127.5 - 1.0;
    assert!((value(data.test.images(), (0, 2, 31, 0)) - expected).abs() < 1e-6);
}

#[test]
fn class_names_file_skips_blank_lines_and_must_hold_ten() {
    let dir = temp_dir("meta");
    fs::write(dir.join("data_batch_1.bin"), cifar10_bytes(0, &[0])).unwrap();
    fs::write(dir.join("test_batch.bin"), cifar10_bytes(1, &[1])).unwrap();
    let names: Vec<String> = (0..10).map(|i| format!("class {i}")).collect();
    let text = format!("{}\n\n  \n", names.join("\n"));
    fs::write(dir.join("batches.meta.txt"), text).unwrap();
    let data = load_cifar10_dir(&dir, &Device::Cpu).unwrap();
    assert_eq!(data.train.class_names(), &names[..]);

    fs::write(dir.join("batches.meta.txt"), names[..9].join("\n")).unwrap();
    let err = load_cifar10_dir(&dir, &Device::Cpu).unwrap_err();
    let message = format_message(err, "batches.meta.txt");
    assert_contains(&message, &["holds 9 class names, expected 10"]);
}

#[test]
fn cifar100_folder_names_classes_by_number_without_a_names_file() {
    let dir = temp_dir("cifar100");
    let train = [record(0, &[1, 10]), record(1, &[2, 20])].concat();
    fs::write(dir.join("train.bin"), train).unwrap();
    fs::write(dir.join("test.bin"), record(2, &[3, 30])).unwrap();
    let data = load_cifar100_dir(&dir, Cifar100Labels::Fine, &Device::Cpu).unwrap();
    assert_eq!(data.train.labels().to_vec1::<u32>().unwrap(), vec![10, 20]);
    assert_eq!(data.test.labels().to_vec1::<u32>().unwrap(), vec![30]);
    assert_eq!(data.train.num_classes(), 100);
    assert_eq!(data.train.class_names()[42], "42");

    let coarse: Vec<String> = (0..20).map(|i| format!("super {i}")).collect();
    fs::write(dir.join("coarse_label_names.txt"), coarse.join("\n") + "\n").unwrap();
    let data = load_cifar100_dir(&dir, Cifar100Labels::Coarse, &Device::Cpu).unwrap();
    assert_eq!(data.train.labels().to_vec1::<u32>().unwrap(), vec![1, 2]);
    assert_eq!(data.train.class_names(), &coarse[..]);
}

#[test]
fn size_not_a_multiple_of_the_record_is_rejected() {
    let dir = temp_dir("size");
    let bytes = cifar10_bytes(0, &[1, 2]);
    let path = dir.join("short.bin");
    fs::write(&path, &bytes[..3073 + 100]).unwrap();
    let message = format_message(
        read_records(&path, CifarFormat::Cifar10).unwrap_err(),
        "short.bin",
    );
    assert_contains(
        &message,
        &[
            "size 3173 bytes",
            "not a multiple of the 3073-byte record",
            "1 records and 100",
        ],
    );
    // A CIFAR-10 file read as CIFAR-100: 6146 = 3074 * 1 + 3072.
    let fine = CifarFormat::Cifar100(Cifar100Labels::Fine);
    let message = format_message(parse_records(&bytes, fine, "as-100").unwrap_err(), "as-100");
    assert_contains(&message, &["size 6146 bytes", "3074-byte record"]);
}

#[test]
fn huge_file_of_the_wrong_size_fails_before_reading() {
    let dir = temp_dir("huge");
    let path = dir.join("huge.bin");
    // A sparse file of about 3 TB: reading it into memory would abort the test.
    let file = fs::File::create(&path).unwrap();
    file.set_len(3073 * 1_000_000_000 + 1).unwrap();
    let message = format_message(
        read_records(&path, CifarFormat::Cifar10).unwrap_err(),
        "huge.bin",
    );
    assert_contains(
        &message,
        &["size 3073000000001 bytes", "1000000000 records and 1 bytes"],
    );
}

#[test]
fn empty_file_is_rejected() {
    let dir = temp_dir("empty");
    fs::write(dir.join("empty.bin"), b"").unwrap();
    let err = read_records(dir.join("empty.bin"), CifarFormat::Cifar10).unwrap_err();
    assert_contains(&format_message(err, "empty.bin"), &["file is empty"]);
}

#[test]
fn label_out_of_range_is_named_with_record_and_offset() {
    let bytes = cifar10_bytes(0, &[9, 10]);
    let err = parse_records(&bytes, CifarFormat::Cifar10, "label").unwrap_err();
    let message = format_message(err, "label");
    assert_contains(
        &message,
        &["record 1 (byte offset 3073): label 10 is not below 10"],
    );

    let coarse = CifarFormat::Cifar100(Cifar100Labels::Coarse);
    let fine = CifarFormat::Cifar100(Cifar100Labels::Fine);
    // Both labels are checked whichever is kept.
    let bad_coarse = [record(0, &[0, 0]), record(1, &[20, 5])].concat();
    let message = format_message(parse_records(&bad_coarse, fine, "c").unwrap_err(), "c");
    assert_contains(
        &message,
        &["record 1 (byte offset 3074): coarse label 20 is not below 20"],
    );
    let bad_fine = record(0, &[0, 100]);
    let message = format_message(parse_records(&bad_fine, coarse, "f").unwrap_err(), "f");
    assert_contains(
        &message,
        &["record 0 (byte offset 1): fine label 100 is not below 100"],
    );
}

#[test]
fn missing_files_are_not_found_errors_naming_them() {
    let dir = temp_dir("missing");
    let not_found = |err: Error, name: &str| match err {
        Error::Io { path, source } => {
            assert!(path.ends_with(name), "{path:?}");
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected a not-found error for {name}, got {other:?}"),
    };
    not_found(
        load_cifar10_dir(&dir, &Device::Cpu).unwrap_err(),
        "data_batch_1.bin",
    );
    fs::write(dir.join("data_batch_2.bin"), cifar10_bytes(0, &[0])).unwrap();
    not_found(
        load_cifar10_dir(&dir, &Device::Cpu).unwrap_err(),
        "test_batch.bin",
    );
    let err = load_cifar100_dir(&dir, Cifar100Labels::Fine, &Device::Cpu).unwrap_err();
    not_found(err, "train.bin");
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/cifar10-sample")
}

#[test]
fn bundled_sample_matches_its_source_notes() {
    let data = load_cifar10_dir(sample(), &Device::Cpu).unwrap();
    assert_eq!(data.train.images().dims(), &[4000, 3, 32, 32]);
    assert_eq!(data.test.images().dims(), &[1000, 3, 32, 32]);
    let names = "airplane automobile bird cat deer dog frog horse ship truck";
    assert_eq!(data.train.class_names().join(" "), names);
    assert_eq!(data.test.class_names().join(" "), names);
    // SOURCE.md, "Per-class counts".
    let train_counts = [396, 366, 420, 384, 422, 393, 414, 385, 407, 413];
    let test_counts = [103, 89, 100, 103, 90, 86, 112, 102, 106, 109];
    assert_eq!(data.train.class_counts().unwrap(), train_counts);
    assert_eq!(data.test.class_counts().unwrap(), test_counts);
    // SOURCE.md: "First labels: test 3,8,8,0,6,6,1,6,3,1; train 6,9,9,4,1,1,2,7,8,3."
    let first = |d: &acgan::data::Dataset| d.labels().to_vec1::<u32>().unwrap()[..10].to_vec();
    assert_eq!(first(&data.test), vec![3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
    assert_eq!(first(&data.train), vec![6, 9, 9, 4, 1, 1, 2, 7, 8, 3]);
    for images in [data.train.images(), data.test.images()] {
        assert!(images.min_all().unwrap().to_scalar::<f32>().unwrap() >= -1.0);
        assert!(images.max_all().unwrap().to_scalar::<f32>().unwrap() <= 1.0);
    }
}

#[test]
fn bundled_sample_pixels_agree_with_the_raw_bytes() {
    let data = load_cifar10_dir(sample(), &Device::Cpu).unwrap();
    let raw = fs::read(sample().join("test_batch.bin")).unwrap();
    // Test image 999, blue plane, row 17, column 3: byte 999 * 3073 + 1 + 2048 + 17 * 32 + 3.
    let byte = raw[999 * 3073 + 1 + 2048 + 17 * 32 + 3];
    let value = data.test.images().i((999, 2, 17, 3)).unwrap();
    let value = value.to_scalar::<f32>().unwrap();
    assert!((value - (f32::from(byte) / 127.5 - 1.0)).abs() < 1e-6);
    // Its label is the record's first byte.
    let label = data
        .test
        .labels()
        .i(999)
        .unwrap()
        .to_scalar::<u32>()
        .unwrap();
    assert_eq!(label, u32::from(raw[999 * 3073]));
}
