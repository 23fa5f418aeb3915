//! Tests of `Dataset`: construction checks, seeded batching, class subsets. Each image is
//! filled with its own index (times 0.01), so a batch shows which images it holds.

use std::collections::BTreeSet;

use acgan::data::{Batching, Dataset, LastBatch, Split};
use acgan::Error;
use candle_core::{DType, Device, Tensor};

/// `n` images of 1 x 2 x 3, image `i` filled with `i * 0.01`, with the given labels.
fn numbered(labels: &[u32], names: &[&str]) -> Dataset {
    let n = labels.len();
    let values: Vec<f32> = (0..n)
        .flat_map(|i| std::iter::repeat_n(i as f32 * 0.01, 6))
        .collect();
    let images = Tensor::from_vec(values, (n, 1, 2, 3), &Device::Cpu).unwrap();
    let labels = Tensor::new(labels, &Device::Cpu).unwrap();
    let names = names.iter().map(|s| s.to_string()).collect();
    Dataset::new(images, labels, names).unwrap()
}

/// The image indices of a batch, read back from the pixel values.
fn ids(images: &Tensor) -> Vec<u32> {
    let values = images.flatten_from(1).unwrap().to_vec2::<f32>().unwrap();
    values
        .iter()
        .map(|v| (v[0] * 100.0).round() as u32)
        .collect()
}

/// Ten images labelled `i % 3`.
fn ten() -> Dataset {
    let labels: Vec<u32> = (0..10).map(|i| i % 3).collect();
    numbered(&labels, &["a", "b", "c"])
}

fn batching(batch_size: usize, seed: u64, last: LastBatch) -> Batching {
    Batching {
        batch_size,
        seed,
        last,
    }
}

/// The batches of one epoch as (image ids, labels).
fn epoch(data: &Dataset, batching: &Batching, epoch: u64) -> Vec<(Vec<u32>, Vec<u32>)> {
    let batches = data.epoch(batching, epoch).unwrap();
    batches
        .map(|batch| {
            let (images, labels) = batch.unwrap();
            (ids(&images), labels.to_vec1::<u32>().unwrap())
        })
        .collect()
}

#[test]
fn new_checks_shapes_dtypes_and_label_range() {
    let cpu = &Device::Cpu;
    let names = || vec!["a".to_string(), "b".to_string()];
    let images = Tensor::zeros((2, 1, 2, 2), DType::F32, cpu).unwrap();
    let labels = Tensor::new(&[0u32, 1], cpu).unwrap();
    assert!(Dataset::new(images.clone(), labels.clone(), names()).is_ok());

    let flat = Tensor::zeros((2, 4), DType::F32, cpu).unwrap();
    let err = Dataset::new(flat, labels.clone(), names()).unwrap_err();
    assert!(
        matches!(err, Error::Shape { ref found, .. } if found == &[2, 4]),
        "{err}"
    );
    let doubles = images.to_dtype(DType::F64).unwrap();
    let err = Dataset::new(doubles, labels.clone(), names()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Shape {
                dtype: DType::F64,
                ..
            }
        ),
        "{err}"
    );

    let three = Tensor::new(&[0u32, 1, 1], cpu).unwrap();
    let err = Dataset::new(images.clone(), three, names()).unwrap_err();
    assert!(
        matches!(err, Error::Shape { ref found, .. } if found == &[3]),
        "{err}"
    );
    let out_of_range = Tensor::new(&[0u32, 2], cpu).unwrap();
    let err = Dataset::new(images, out_of_range, names()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LabelOutOfRange {
                label: 2,
                num_classes: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn accessors_describe_the_data() {
    let data = ten();
    assert_eq!(data.len(), 10);
    assert!(!data.is_empty());
    assert_eq!(data.image_dims(), (1, 2, 3));
    assert_eq!(data.num_classes(), 3);
    assert_eq!(data.class_names(), ["a", "b", "c"]);
    // Labels 0, 1, 2, 0, 1, 2, 0, 1, 2, 0: four zeros, three ones, three twos.
    assert_eq!(data.class_counts().unwrap(), vec![4, 3, 3]);
}

#[test]
fn an_epoch_visits_every_image_once_with_its_label() {
    let data = ten();
    let keep = epoch(&data, &batching(3, 5, LastBatch::Keep), 0);
    let sizes: Vec<usize> = keep.iter().map(|(ids, _)| ids.len()).collect();
    assert_eq!(sizes, vec![3, 3, 3, 1]);
    let all: Vec<u32> = keep.iter().flat_map(|(ids, _)| ids.clone()).collect();
    assert_eq!(all.iter().copied().collect::<BTreeSet<_>>().len(), 10);
    assert_ne!(all, (0..10).collect::<Vec<_>>(), "the order is shuffled");
    for (ids, labels) in &keep {
        let expected: Vec<u32> = ids.iter().map(|i| i % 3).collect();
        assert_eq!(labels, &expected, "images and labels move together");
    }

    let drop = epoch(&data, &batching(3, 5, LastBatch::Drop), 0);
    assert_eq!(drop.len(), 3);
    assert_eq!(&drop[..], &keep[..3], "dropping the tail keeps the order");
}

#[test]
fn order_depends_on_seed_and_epoch_only() {
    let data = ten();
    let b = batching(4, 11, LastBatch::Drop);
    assert_eq!(epoch(&data, &b, 3), epoch(&data, &b, 3));
    assert_eq!(data.epoch_order(11, 3), data.epoch_order(11, 3));
    assert_ne!(data.epoch_order(11, 3), data.epoch_order(11, 4));
    assert_ne!(data.epoch_order(11, 3), data.epoch_order(12, 3));
    let mut sorted = data.epoch_order(11, 3);
    sorted.sort();
    assert_eq!(sorted, (0..10).collect::<Vec<_>>());
}

#[test]
fn batch_at_step_walks_through_the_epochs() {
    let data = ten();
    for last in [LastBatch::Drop, LastBatch::Keep] {
        let b = batching(4, 2, last);
        let per_epoch = data.batches_per_epoch(&b);
        assert_eq!(per_epoch, if last == LastBatch::Drop { 2 } else { 3 });
        for step in 0..3 * per_epoch as u64 {
            let (images, labels) = data.batch_at_step(&b, step).unwrap();
            let (e, i) = (step / per_epoch as u64, step as usize % per_epoch);
            let expected = &epoch(&data, &b, e)[i];
            assert_eq!(ids(&images), expected.0, "{last:?} step {step}");
            assert_eq!(labels.to_vec1::<u32>().unwrap(), expected.1);
        }
    }
}

#[test]
fn batching_that_yields_nothing_is_an_error() {
    let data = ten();
    for b in [
        batching(0, 0, LastBatch::Keep),
        batching(11, 0, LastBatch::Drop),
    ] {
        let err = data.epoch(&b, 0).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err}");
        assert!(err.to_string().contains("10 images"), "{err}");
        assert!(data.batch_at_step(&b, 0).is_err());
    }
    // Kept, the only (partial) batch holds all ten.
    let one = epoch(&data, &batching(11, 0, LastBatch::Keep), 0);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].0.len(), 10);
}

#[test]
fn subset_renumbers_in_the_order_given_and_keeps_the_mapping() {
    let data = numbered(&[0, 1, 2, 3, 1, 2, 0, 3], &["a", "b", "c", "d"]);
    let (kept, mapping) = data.subset(&[2, 0]).unwrap();
    // Images 0, 2, 5, 6 have labels 0, 2, 2, 0: class 2 becomes 0, class 0 becomes 1.
    assert_eq!(ids(kept.images()), vec![0, 2, 5, 6]);
    assert_eq!(kept.labels().to_vec1::<u32>().unwrap(), vec![1, 0, 0, 1]);
    assert_eq!(kept.class_names(), ["c", "a"]);
    assert_eq!(kept.num_classes(), 2);
    assert_eq!(mapping.originals(), &[2, 0]);
    assert_eq!(mapping.original(0), Some(2));
    assert_eq!(mapping.original(2), None);
    assert_eq!(mapping.new_label(0), Some(1));
    assert_eq!(mapping.new_label(1), None);
}

#[test]
fn subset_rejects_empty_repeated_and_unknown_classes() {
    let data = ten();
    for (classes, words) in [
        (&[][..], "empty"),
        (&[1, 2, 1][..], "class 1 is listed twice"),
        (&[0, 3][..], "class 3 is not below 3"),
    ] {
        let err = data.subset(classes).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err}");
        assert!(err.to_string().contains(words), "{err} lacks {words:?}");
    }
}

#[test]
fn split_subset_keeps_the_same_classes_in_both_halves() {
    let split = Split {
        train: numbered(&[0, 1, 2, 1], &["a", "b", "c"]),
        test: numbered(&[2, 2, 0], &["a", "b", "c"]),
    };
    let (kept, mapping) = split.subset(&[1, 2]).unwrap();
    assert_eq!(mapping.originals(), &[1, 2]);
    assert_eq!(ids(kept.train.images()), vec![1, 2, 3]);
    assert_eq!(kept.train.labels().to_vec1::<u32>().unwrap(), vec![0, 1, 0]);
    assert_eq!(ids(kept.test.images()), vec![0, 1]);
    assert_eq!(kept.test.labels().to_vec1::<u32>().unwrap(), vec![1, 1]);
    assert_eq!(kept.test.class_names(), ["b", "c"]);
}

#[test]
fn transpose_images_swaps_rows_and_columns() {
    // One 2 x 3 image holding 0..6 row by row: [[0, 1, 2], [3, 4, 5]].
    let values: Vec<f32> = (0..6).map(|v| v as f32).collect();
    let images = Tensor::from_vec(values, (1, 1, 2, 3), &Device::Cpu).unwrap();
    let labels = Tensor::new(&[0u32], &Device::Cpu).unwrap();
    let data = Dataset::new(images, labels, vec!["x".into()]).unwrap();
    let turned = data.transpose_images().unwrap();
    assert_eq!(turned.image_dims(), (1, 3, 2));
    let rows = turned.images().squeeze(0).unwrap().squeeze(0).unwrap();
    let expected = vec![vec![0.0, 3.0], vec![1.0, 4.0], vec![2.0, 5.0]];
    assert_eq!(rows.to_vec2::<f32>().unwrap(), expected);
}
