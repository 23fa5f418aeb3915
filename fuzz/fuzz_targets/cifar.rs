//! Feeds arbitrary bytes to the CIFAR-10 and CIFAR-100 record parsers. Any outcome but a
//! panic or an abort is a pass; parsed records must hold 3,072 pixels each and labels in
//! range.
#![no_main]

use acgan::data::cifar::{parse_records, Cifar100Labels, CifarFormat, IMAGE_BYTES};
use libfuzzer_sys::fuzz_target;

const FORMATS: [CifarFormat; 3] = [
    CifarFormat::Cifar10,
    CifarFormat::Cifar100(Cifar100Labels::Coarse),
    CifarFormat::Cifar100(Cifar100Labels::Fine),
];

fuzz_target!(|data: &[u8]| {
    for format in FORMATS {
        if let Ok(records) = parse_records(data, format, "fuzz") {
            assert_eq!(records.pixels.len(), records.len() * IMAGE_BYTES);
            assert_eq!(records.len() * format.record_len(), data.len());
            let limit = format.num_classes();
            assert!(records.labels.iter().all(|&l| usize::from(l) < limit));
        }
    }
});
