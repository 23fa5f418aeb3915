//! The training step: which network each phase changes, seeding, checkpoints and exact resume,
//! and learning on real digits.

use std::collections::BTreeMap;
use std::path::PathBuf;

use acgan::data::idx::load_mnist_dir;
use acgan::{DiscriminatorConfig, Error, GeneratorConfig, Trainer, TrainerConfig};
use candle_core::{Device, Tensor};
use candle_nn::VarMap;

fn trainer(seed: u64) -> Trainer {
    let config = TrainerConfig {
        seed,
        ..Default::default()
    };
    Trainer::new(
        &GeneratorConfig::mnist(),
        &DiscriminatorConfig::mnist(),
        config,
        &Device::Cpu,
    )
    .unwrap()
}

/// Every variable's values as bit patterns, by name, optionally without the batch-norm running
/// statistics.
fn snapshot(vars: &VarMap, with_running: bool) -> BTreeMap<String, Vec<u32>> {
    let data = vars.data().lock().unwrap();
    data.iter()
        .filter(|(name, _)| with_running || !name.contains("running"))
        .map(|(name, var)| {
            let values = var
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            (name.clone(), values.iter().map(|v| v.to_bits()).collect())
        })
        .collect()
}

/// A deterministic batch of "real" images and labels: smooth patterns in [-1, 1].
fn batch(index: usize, size: usize) -> (Tensor, Tensor) {
    let values: Vec<f32> = (0..size * 784)
        .map(|i| (((i * 7 + index * 131) % 97) as f32 / 48.0 - 1.0).clamp(-1.0, 1.0))
        .collect();
    let images = Tensor::from_vec(values, (size, 1, 28, 28), &Device::Cpu).unwrap();
    let labels: Vec<u32> = (0..size).map(|i| ((i + index) % 10) as u32).collect();
    (
        images,
        Tensor::from_vec(labels, size, &Device::Cpu).unwrap(),
    )
}

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("acgan-trainer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn the_discriminator_step_changes_only_d_and_the_generator_step_only_g() {
    let mut t = trainer(0);
    let (images, labels) = batch(0, 8);
    let fakes = t.sample_fakes(8).unwrap();

    let g_before = snapshot(t.generator_vars(), true);
    let d_before = snapshot(t.discriminator_vars(), false);
    t.discriminator_step(&images, &labels, &fakes).unwrap();
    assert_eq!(
        g_before,
        snapshot(t.generator_vars(), true),
        "D step changed G"
    );
    let d_after = snapshot(t.discriminator_vars(), false);
    let changed = d_before.iter().filter(|(k, v)| d_after[*k] != **v).count();
    assert_eq!(changed, d_before.len(), "every D weight should move");

    let g_before = snapshot(t.generator_vars(), false);
    t.generator_step(&fakes).unwrap();
    assert_eq!(
        d_after,
        snapshot(t.discriminator_vars(), false),
        "G step changed D's weights"
    );
    let g_after = snapshot(t.generator_vars(), false);
    let changed = g_before.iter().filter(|(k, v)| g_after[*k] != **v).count();
    assert_eq!(changed, g_before.len(), "every G weight should move");
}

#[test]
fn the_same_seed_gives_the_same_losses_and_another_seed_does_not() {
    let (images, labels) = batch(0, 8);
    let run = |seed| {
        let mut t = trainer(seed);
        (0..2)
            .map(|_| t.step(&images, &labels).unwrap())
            .collect::<Vec<_>>()
    };
    let (a, b, c) = (run(4), run(4), run(5));
    assert_eq!(a, b);
    assert_ne!(a[0].d_loss, c[0].d_loss);
    assert!(a
        .iter()
        .all(|s| s.d_loss.is_finite() && s.g_loss.is_finite()));
    assert_eq!((a[0].step, a[1].step), (1, 2));
}

#[test]
fn step_stats_are_consistent() {
    let mut t = trainer(1);
    let (images, labels) = batch(3, 16);
    let s = t.step(&images, &labels).unwrap();
    let d_sum = s.d_source_real + s.d_source_fake + s.d_class_real + s.d_class_fake;
    assert!((s.d_loss - d_sum).abs() < 1e-5, "{s:?}");
    assert!((s.g_loss - (s.g_source + s.g_class)).abs() < 1e-5, "{s:?}");
    let shares = [
        s.d_accuracy_real,
        s.d_accuracy_fake,
        s.class_accuracy_real,
        s.class_accuracy_fake,
    ];
    // Each is a count over 16 images, so a multiple of 1/16.
    for share in shares {
        assert!(
            (0.0..=1.0).contains(&share) && (share * 16.0).fract() == 0.0,
            "{s:?}"
        );
    }
}

#[test]
fn a_checkpoint_restores_everything_and_resumed_training_is_identical() {
    let batches: Vec<_> = (0..5).map(|i| batch(i, 8)).collect();
    let mut straight = trainer(7);
    for (x, y) in &batches {
        straight.step(x, y).unwrap();
    }

    let mut first = trainer(7);
    for (x, y) in &batches[..3] {
        first.step(x, y).unwrap();
    }
    let path = temp_path("resume.safetensors");
    first.save(&path).unwrap();
    let mut resumed = Trainer::load(&path, &Device::Cpu).unwrap();
    assert_eq!(resumed.step_count(), 3);
    assert_eq!(
        snapshot(resumed.generator_vars(), true),
        snapshot(first.generator_vars(), true)
    );
    for (x, y) in &batches[3..] {
        resumed.step(x, y).unwrap();
    }
    assert_eq!(
        snapshot(resumed.generator_vars(), true),
        snapshot(straight.generator_vars(), true)
    );
    assert_eq!(
        snapshot(resumed.discriminator_vars(), true),
        snapshot(straight.discriminator_vars(), true)
    );

    // Resuming into an existing trainer of the same configuration works the same way.
    let mut into = trainer(7);
    into.resume(&path).unwrap();
    for (x, y) in &batches[3..] {
        into.step(x, y).unwrap();
    }
    assert_eq!(
        snapshot(into.generator_vars(), true),
        snapshot(straight.generator_vars(), true)
    );
}

#[test]
fn saving_leaves_no_temporary_file_and_loads_the_generator_alone() {
    let mut t = trainer(2);
    let (x, y) = batch(1, 8);
    t.step(&x, &y).unwrap();
    let path = temp_path("alone.safetensors");
    t.save(&path).unwrap();
    let dir: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!dir.iter().any(|n| n.contains(".tmp")), "{dir:?}");

    let g = acgan::checkpoint::load_generator(&path, &Device::Cpu).unwrap();
    let z = Tensor::randn(0f32, 1.0, (4, 100), &Device::Cpu).unwrap();
    let y = Tensor::new(&[0u32, 1, 2, 3], &Device::Cpu).unwrap();
    let from_file = g.forward_t(&z, &y, false).unwrap();
    let from_trainer = t.generate_with_noise(&z, &y).unwrap();
    let diff = (from_file - from_trainer)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap();
    assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0);
}

#[test]
fn resuming_into_a_different_model_names_the_field_that_differs() {
    let t = trainer(0);
    let path = temp_path("mismatch.safetensors");
    t.save(&path).unwrap();
    let wider = GeneratorConfig {
        initial_channels: 64,
        ..GeneratorConfig::mnist()
    };
    let mut other = Trainer::new(
        &wider,
        &DiscriminatorConfig::mnist(),
        TrainerConfig::default(),
        &Device::Cpu,
    )
    .unwrap();
    match other.resume(&path) {
        Err(Error::ConfigMismatch {
            network: "generator",
            field,
            in_file,
            in_model,
            ..
        }) => {
            assert_eq!(
                (field.as_str(), in_file.as_str(), in_model.as_str()),
                ("initial_channels", "96", "64")
            );
        }
        other => panic!("expected ConfigMismatch, got {other:?}"),
    }
    let mut momentum = DiscriminatorConfig::mnist();
    momentum.batch_norm.momentum = 0.2;
    let mut other = Trainer::new(
        &GeneratorConfig::mnist(),
        &momentum,
        TrainerConfig::default(),
        &Device::Cpu,
    )
    .unwrap();
    let err = other.resume(&path).unwrap_err();
    assert!(err.to_string().contains("batch_norm.momentum"), "{err}");
}

#[test]
fn broken_checkpoints_are_errors_naming_the_file() {
    let path = temp_path("garbage.safetensors");
    std::fs::write(&path, b"not a checkpoint at all").unwrap();
    let err = Trainer::load(&path, &Device::Cpu).err().unwrap();
    assert!(
        matches!(err, Error::Format { .. }) && err.to_string().contains("garbage"),
        "{err}"
    );
    let missing = temp_path("missing.safetensors");
    assert!(matches!(
        Trainer::load(&missing, &Device::Cpu),
        Err(Error::Io { .. })
    ));

    // A valid safetensors file without our metadata.
    let plain = temp_path("plain.safetensors");
    let t = Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu).unwrap();
    candle_core::safetensors::save(&[("x", t)].into_iter().collect(), &plain).unwrap();
    let err = Trainer::load(&plain, &Device::Cpu).err().unwrap();
    assert!(err.to_string().contains("format"), "{err}");
}

#[test]
fn a_short_run_on_real_digits_teaches_the_class_head() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist-5k");
    let data = load_mnist_dir(dir, 10, &Device::Cpu).unwrap();
    let mut t = trainer(0);
    let mut rng = acgan::rng::seeded(11);
    let n = data.train_images.dims()[0];
    for _ in 0..80 {
        let picks: Vec<u32> = (0..32)
            .map(|_| rand::Rng::random_range(&mut rng, 0..n as u32))
            .collect();
        let idx = Tensor::new(picks.as_slice(), &Device::Cpu).unwrap();
        let x = data.train_images.index_select(&idx, 0).unwrap();
        let y = data.train_labels.index_select(&idx, 0).unwrap();
        let stats = t.step(&x, &y).unwrap();
        assert!(stats.d_loss.is_finite() && stats.g_loss.is_finite());
    }
    // Accuracy of the class head on the 1,000 held-out test digits, in inference mode.
    let out = t
        .discriminator()
        .forward_t(&data.test_images, false)
        .unwrap();
    let correct = out.class.argmax(1).unwrap().eq(&data.test_labels).unwrap();
    let accuracy = correct
        .to_dtype(candle_core::DType::F32)
        .unwrap()
        .mean_all()
        .unwrap();
    let accuracy = accuracy.to_scalar::<f32>().unwrap();
    assert!(
        accuracy > 0.5,
        "test accuracy {accuracy} after 80 steps; chance is 0.1"
    );
}
