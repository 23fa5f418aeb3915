//! The sample-judging classifier: value ranges, shapes, checkpoints, reproducible training,
//! accuracy reports counted by hand, and the accuracy targets on MNIST and Fashion-MNIST.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use acgan::data::idx::{load_mnist_dir, MnistData};
use acgan::discriminator::ConvLayer;
use acgan::eval::classifier::{
    train_classifier, AccuracyReport, Classifier, ClassifierConfig, ClassifierTraining, EpochStats,
    ValueRange,
};
use acgan::eval::scores::FeatureModel;
use acgan::init::SeededInit;
use acgan::Error;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;

const MNIST_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist-5k");
const FASHION_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The two long trainings take the whole machine; running them one at a time keeps each
/// one's time meaningful.
static LONG_RUN: Mutex<()> = Mutex::new(());

fn mnist() -> MnistData {
    load_mnist_dir(MNIST_DIR, 10, &Device::Cpu).unwrap()
}

/// A folder of its own for one test, removed with everything in it when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let name = format!("acgan-eval-classifier-{}-{test}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

/// A classifier trained briefly on the first `n` digits of the bundled subset.
fn quick_classifier(n: usize, seed: u64) -> (Classifier, Vec<EpochStats>) {
    let data = mnist();
    let training = ClassifierTraining {
        epochs: 1,
        seed,
        data: format!("mnist-5k train, first {n}"),
        ..Default::default()
    };
    let images = data.train_images.narrow(0, 0, n).unwrap();
    let labels = data.train_labels.narrow(0, 0, n).unwrap();
    let mut stats = Vec::new();
    let config = ClassifierConfig::mnist();
    let classifier =
        train_classifier(&config, &images, &labels, &training, |s| stats.push(s)).unwrap();
    (classifier, stats)
}

fn untrained(config: &ClassifierConfig) -> Classifier {
    let vars = VarMap::new();
    Classifier::new(config, SeededInit::var_builder(&vars, 3, &Device::Cpu)).unwrap()
}

#[test]
fn value_ranges_convert_and_refuse() {
    let unit = Tensor::new(&[[0.0f32, 0.25], [0.5, 1.0]], &Device::Cpu).unwrap();
    let converted = ValueRange::ZeroToOne
        .convert(&unit, ValueRange::MinusOneToOne)
        .unwrap();
    assert_eq!(values(&converted), vec![-1.0, -0.5, 0.0, 1.0]);
    let back = ValueRange::MinusOneToOne
        .convert(&converted, ValueRange::ZeroToOne)
        .unwrap();
    assert_eq!(values(&back), values(&unit));

    assert!(ValueRange::ZeroToOne.check("x", &unit).is_ok());
    let rounding = Tensor::new(&[-0.0005f32, 1.0005], &Device::Cpu).unwrap();
    assert!(ValueRange::ZeroToOne.check("x", &rounding).is_ok());
    let signed = Tensor::new(&[-0.5f32, 0.75], &Device::Cpu).unwrap();
    let message = ValueRange::ZeroToOne
        .check("my images", &signed)
        .unwrap_err()
        .to_string();
    for part in ["my images", "ZeroToOne", "-0.5", "0.75"] {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
    let bytes_like = Tensor::new(&[0f32, 255.0], &Device::Cpu).unwrap();
    assert!(ValueRange::MinusOneToOne.check("x", &bytes_like).is_err());
    let nan = Tensor::new(&[0f32, f32::NAN], &Device::Cpu).unwrap();
    assert!(ValueRange::MinusOneToOne.check("x", &nan).is_err());
}

#[test]
fn the_classifier_converts_declared_ranges_and_refuses_others() {
    let classifier = untrained(&ClassifierConfig::mnist());
    assert_eq!(classifier.input_range(), ValueRange::MinusOneToOne);
    let unit = Tensor::full(0.75f32, (2, 1, 28, 28), &Device::Cpu).unwrap();
    let prepared = classifier.prepare(&unit, ValueRange::ZeroToOne).unwrap();
    assert!(values(&prepared).iter().all(|&v| v == 0.5));
    let from_unit = classifier.logits(&unit, ValueRange::ZeroToOne).unwrap();
    let direct = classifier.forward_t(&prepared, false).unwrap();
    assert_eq!(values(&from_unit), values(&direct));

    let pixels = Tensor::full(200f32, (2, 1, 28, 28), &Device::Cpu).unwrap();
    let labels = Tensor::new(&[0u32, 1], &Device::Cpu).unwrap();
    for range in [ValueRange::ZeroToOne, ValueRange::MinusOneToOne] {
        let err = classifier
            .accuracy(&pixels, &labels, range, "raw bytes")
            .unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err}");
        assert!(err.to_string().contains("from 200 to 200"), "{err}");
    }
}

#[test]
fn presets_give_logits_features_and_probabilities_of_the_stated_shapes() {
    for (config, channels, side) in [
        (ClassifierConfig::mnist(), 1, 28),
        (ClassifierConfig::cifar10(), 3, 32),
    ] {
        let classifier = untrained(&config);
        let images = Tensor::zeros((3, channels, side, side), DType::F32, &Device::Cpu).unwrap();
        for train in [true, false] {
            let logits = classifier.forward_t(&images, train).unwrap();
            assert_eq!(logits.dims(), &[3, 10]);
        }
        assert_eq!(
            classifier.features(&images).unwrap().dims(),
            &[3, config.hidden]
        );
        let p = classifier.probabilities(&images).unwrap();
        assert_eq!(p.dims(), &[3, 10]);
        for sum in values(&p.sum(1).unwrap()) {
            assert!((sum - 1.0).abs() < 1e-5);
        }
        let wrong = Tensor::zeros((3, channels, side + 1, side), DType::F32, &Device::Cpu).unwrap();
        assert!(matches!(
            classifier.forward_t(&wrong, false),
            Err(Error::Shape { .. })
        ));
        let empty = Tensor::zeros((0, channels, side, side), DType::F32, &Device::Cpu).unwrap();
        assert!(matches!(
            classifier.features(&empty),
            Err(Error::Shape { .. })
        ));
    }
}

#[test]
fn invalid_configurations_are_refused() {
    let bad = [
        ClassifierConfig {
            num_classes: 0,
            ..ClassifierConfig::mnist()
        },
        ClassifierConfig {
            dropout: 1.0,
            ..ClassifierConfig::mnist()
        },
        ClassifierConfig {
            kernel_size: 29,
            ..ClassifierConfig::mnist()
        },
        ClassifierConfig {
            layers: vec![ConvLayer {
                out_channels: 8,
                stride: 0,
            }],
            ..ClassifierConfig::mnist()
        },
    ];
    for config in bad {
        let vars = VarMap::new();
        let vb = SeededInit::var_builder(&vars, 0, &Device::Cpu);
        assert!(
            matches!(Classifier::new(&config, vb), Err(Error::Config { .. })),
            "{config:?}"
        );
    }
    let zero_epochs = ClassifierTraining {
        epochs: 0,
        ..Default::default()
    };
    assert!(zero_epochs.validate().is_err());
}

#[test]
fn batched_inference_equals_one_pass_and_changes_nothing() {
    // 300 images span two evaluation batches (256 + 44).
    let classifier = untrained(&ClassifierConfig::mnist());
    let data = mnist();
    let images = data.test_images.narrow(0, 0, 300).unwrap();
    let batched = classifier
        .logits(&images, ValueRange::MinusOneToOne)
        .unwrap();
    let whole = classifier.forward_t(&images, false).unwrap();
    let diff = (batched - &whole)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap();
    assert!(diff.to_scalar::<f32>().unwrap() < 1e-4);
    let again = classifier.forward_t(&images, false).unwrap();
    assert_eq!(values(&again), values(&whole));
}

#[test]
fn a_checkpoint_round_trip_gives_the_same_logits_and_provenance() {
    let (classifier, _) = quick_classifier(300, 4);
    let scratch = Scratch::new("round-trip");
    let path = scratch.path("classifier.safetensors");
    classifier.save(&path).unwrap();
    assert_eq!(classifier.checkpoint(), Some(path.clone()));
    let loaded = Classifier::load(&path, &Device::Cpu).unwrap();
    assert_eq!(loaded.config(), classifier.config());
    assert_eq!(
        loaded.trained_on(),
        Some("mnist-5k train, first 300 (300 images)")
    );
    assert_eq!(loaded.training(), classifier.training());
    assert!(loaded.describe().contains(&path.display().to_string()));
    assert!(loaded.describe().contains("first 300 (300 images)"));

    let images = mnist().test_images.narrow(0, 0, 64).unwrap();
    let before = classifier.forward_t(&images, false).unwrap();
    let after = loaded.forward_t(&images, false).unwrap();
    assert_eq!(values(&before), values(&after));

    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn bad_checkpoint_files_give_errors_naming_them() {
    let scratch = Scratch::new("bad-files");
    let garbage = scratch.path("garbage.safetensors");
    std::fs::write(&garbage, b"this is not a safetensors file").unwrap();
    let missing = scratch.path("does-not-exist.safetensors");
    let foreign = scratch.path("foreign.safetensors");
    let t = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
    let meta = HashMap::from([("format".to_string(), "acgan-checkpoint-1".to_string())]);
    let bytes = safetensors::tensor::serialize([("x", &t)], Some(meta)).unwrap();
    std::fs::write(&foreign, bytes).unwrap();
    for (path, kind) in [(&garbage, "format"), (&missing, "io"), (&foreign, "format")] {
        let err = Classifier::load(path, &Device::Cpu).unwrap_err();
        match (&err, kind) {
            (Error::Format { .. }, "format") | (Error::Io { .. }, "io") => {}
            _ => panic!("{path:?}: unexpected {err:?}"),
        }
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }
}

#[test]
fn a_checkpoint_with_a_tensor_too_many_or_missing_is_refused() {
    let classifier = untrained(&ClassifierConfig::mnist());
    let scratch = Scratch::new("extra-missing");
    let path = scratch.path("complete.safetensors");
    classifier.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone();
    let mut tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu).unwrap();

    let extra = scratch.path("extra.safetensors");
    let mut with_extra = tensors.clone();
    with_extra.insert(
        "stray.weight".into(),
        Tensor::zeros(2, DType::F32, &Device::Cpu).unwrap(),
    );
    let serialized = safetensors::tensor::serialize(with_extra.iter(), meta.clone()).unwrap();
    std::fs::write(&extra, serialized).unwrap();
    let err = Classifier::load(&extra, &Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("stray.weight"), "{err}");
    assert!(
        err.to_string().contains(&extra.display().to_string()),
        "{err}"
    );

    let short = scratch.path("short.safetensors");
    tensors.remove("hidden.weight");
    std::fs::write(
        &short,
        safetensors::tensor::serialize(tensors.iter(), meta).unwrap(),
    )
    .unwrap();
    let err = Classifier::load(&short, &Device::Cpu).unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err}");
    assert!(err.to_string().contains("hidden.weight"), "{err}");
}

#[test]
fn training_with_the_same_seed_is_reproducible() {
    let (a, stats_a) = quick_classifier(200, 9);
    let (b, stats_b) = quick_classifier(200, 9);
    let (c, _) = quick_classifier(200, 10);
    assert_eq!(stats_a, stats_b);
    assert!(stats_a
        .iter()
        .all(|s| s.loss.is_finite() && s.images == 200));
    let images = mnist().test_images.narrow(0, 0, 32).unwrap();
    let logits = |k: &Classifier| values(&k.forward_t(&images, false).unwrap());
    assert_eq!(logits(&a), logits(&b));
    assert_ne!(logits(&a), logits(&c));
}

#[test]
fn reports_count_by_hand() {
    // Labels 0, 1, 2, 2, 2, 0 against predictions 0, 1, 1, 2, 2, 2: four right.
    // Class 0: 1 of 2; class 1: 1 of 1; class 2: 2 of 3; class 3: no images.
    let report =
        AccuracyReport::from_predictions(&[0, 1, 1, 2, 2, 2], &[0, 1, 2, 2, 2, 0], 4).unwrap();
    assert_eq!(report.overall, 4.0 / 6.0);
    assert_eq!(report.counts, vec![2, 1, 3, 0]);
    assert_eq!(&report.per_class[..3], &[0.5, 1.0, 2.0 / 3.0]);
    assert!(report.per_class[3].is_nan());
    assert_eq!(report.total(), 6);
    assert!(AccuracyReport::from_predictions(&[0, 4], &[0, 1], 4).is_err());
    assert!(AccuracyReport::from_predictions(&[0], &[0, 1], 4).is_err());
}

/// A classifier that always answers class 2: every weight is zero (running variances one)
/// and the output bias is 5 for class 2, 0 for the others.
fn always_two() -> Classifier {
    let config = ClassifierConfig {
        dropout: 0.0,
        ..ClassifierConfig::mnist()
    };
    let vars = VarMap::new();
    let vb = SeededInit::var_builder(&vars, 0, &Device::Cpu);
    let classifier = Classifier::new(&config, vb).unwrap();
    for (name, var) in vars.data().lock().unwrap().iter() {
        let value = if name.ends_with("running_var") {
            var.as_tensor().ones_like().unwrap()
        } else if name == "output.bias" {
            Tensor::new(&[0f32, 0., 5., 0., 0., 0., 0., 0., 0., 0.], &Device::Cpu).unwrap()
        } else {
            var.as_tensor().zeros_like().unwrap()
        };
        var.set(&value).unwrap();
    }
    classifier
}

#[test]
fn a_classifier_with_known_answers_gets_the_hand_counted_report() {
    let classifier = always_two();
    let images = Tensor::zeros((5, 1, 28, 28), DType::F32, &Device::Cpu).unwrap();
    let labels = Tensor::new(&[2u32, 0, 2, 9, 2], &Device::Cpu).unwrap();
    let report = classifier
        .accuracy(&images, &labels, ValueRange::MinusOneToOne, "five zeros")
        .unwrap();
    assert_eq!(report.overall, 0.6);
    assert_eq!(report.counts, vec![1, 0, 3, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(report.per_class[0], 0.0);
    assert_eq!(report.per_class[2], 1.0);
    assert_eq!(report.per_class[9], 0.0);
    assert_eq!(report.data, "five zeros");
    assert_eq!(report.classifier, "unsaved classifier (untrained)");
}

/// Trains `config` on a data set's training split and returns its test report and the
/// seconds spent training.
fn train_and_test(
    config: &ClassifierConfig,
    data: &MnistData,
    training: &ClassifierTraining,
    test_name: &str,
) -> (Classifier, AccuracyReport, f64) {
    let _one_at_a_time = LONG_RUN.lock().unwrap_or_else(|p| p.into_inner());
    let start = Instant::now();
    let classifier = train_classifier(
        config,
        &data.train_images,
        &data.train_labels,
        training,
        |s| {
            eprintln!(
                "{}: {s:?} at {:.1} s",
                training.data,
                start.elapsed().as_secs_f64()
            )
        },
    )
    .unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let range = ValueRange::MinusOneToOne;
    let report = classifier
        .accuracy(&data.test_images, &data.test_labels, range, test_name)
        .unwrap();
    eprintln!(
        "{}: trained in {seconds:.1} s, test accuracy {:.4}, per class {:?}",
        training.data, report.overall, report.per_class
    );
    (classifier, report, seconds)
}

#[test]
fn the_bundled_mnist_subset_reaches_97_percent() {
    let data = mnist();
    let training = ClassifierTraining::mnist_subset();
    let config = ClassifierConfig::mnist();
    let (classifier, report, _) = train_and_test(&config, &data, &training, "mnist-5k t10k");
    assert!(report.overall >= 0.97, "test accuracy {}", report.overall);
    assert_eq!(report.counts, vec![100; 10]);
    assert_eq!(report.data, "mnist-5k t10k");
    assert!(report.classifier.contains("mnist-5k train (4000 images)"));

    // The report agrees with a count of the one-pass predictions.
    let predicted = classifier
        .forward_t(&data.test_images, false)
        .unwrap()
        .argmax(1)
        .unwrap();
    let right = predicted
        .eq(&data.test_labels)
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap();
    let by_hand = right.mean_all().unwrap().to_scalar::<f64>().unwrap();
    assert!((by_hand - report.overall).abs() < 1e-12);
}

#[test]
fn fashion_mnist_reaches_90_percent_on_its_full_test_set() {
    let found = std::path::Path::new(FASHION_DIR)
        .join("t10k-labels-idx1-ubyte.gz")
        .exists()
        || std::path::Path::new(FASHION_DIR)
            .join("t10k-labels-idx1-ubyte")
            .exists();
    assert!(
        found,
        "Fashion-MNIST is missing from {FASHION_DIR}: install it with \
         `apt-get install -y dataset-fashion-mnist`"
    );
    let data = load_mnist_dir(FASHION_DIR, 10, &Device::Cpu).unwrap();
    assert_eq!(data.train_images.dims(), &[60_000, 1, 28, 28]);
    assert_eq!(data.test_images.dims(), &[10_000, 1, 28, 28]);
    let training = ClassifierTraining::fashion_mnist();
    let config = ClassifierConfig::mnist();
    let (_, report, _) = train_and_test(&config, &data, &training, "fashion-mnist t10k");
    assert!(report.overall >= 0.90, "test accuracy {}", report.overall);
}
