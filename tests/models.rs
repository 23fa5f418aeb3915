//! Shapes of every public forward for every preset, label checks, and inference mode.

use acgan::init::SeededInit;
use acgan::{
    AuxDiscriminator, Conditioning, DiscriminatorConfig, Error, Generator, GeneratorConfig,
};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;

fn presets() -> Vec<(&'static str, GeneratorConfig, DiscriminatorConfig)> {
    vec![
        (
            "mnist",
            GeneratorConfig::mnist(),
            DiscriminatorConfig::mnist(),
        ),
        (
            "cifar10",
            GeneratorConfig::cifar10(),
            DiscriminatorConfig::cifar10(),
        ),
        (
            "imagenet128",
            GeneratorConfig::imagenet128(),
            DiscriminatorConfig::imagenet128(),
        ),
    ]
}

fn build_generator(config: &GeneratorConfig, seed: u64) -> (Generator, VarMap) {
    let vars = VarMap::new();
    let vb = SeededInit::var_builder(&vars, seed, &Device::Cpu);
    (Generator::new(config, vb).unwrap(), vars)
}

fn build_discriminator(config: &DiscriminatorConfig) -> AuxDiscriminator {
    let vars = VarMap::new();
    AuxDiscriminator::new(config, SeededInit::var_builder(&vars, 1, &Device::Cpu)).unwrap()
}

fn labels(values: &[u32]) -> Tensor {
    Tensor::new(values, &Device::Cpu).unwrap()
}

fn noise(batch: usize, dim: usize, seed: u64) -> Tensor {
    let mut rng = acgan::rng::seeded(seed);
    let g = build_generator(
        &GeneratorConfig {
            latent_dim: dim,
            ..GeneratorConfig::mnist()
        },
        0,
    )
    .0;
    g.sample_noise(batch, &mut rng, &Device::Cpu).unwrap()
}

#[test]
fn every_preset_produces_and_judges_images_of_the_stated_shape() {
    let expected_sides = [
        ("mnist", 1, 28),
        ("cifar10", 3, 32),
        ("imagenet128", 3, 128),
    ];
    for ((name, g_config, d_config), (_, channels, side)) in
        presets().into_iter().zip(expected_sides)
    {
        let (g, _) = build_generator(&g_config, 0);
        let z = noise(2, g_config.latent_dim, 5);
        for train in [true, false] {
            let images = g.forward_t(&z, &labels(&[0, 9]), train).unwrap();
            assert_eq!(images.dims(), &[2, channels, side, side], "{name}");
            let (lo, hi) = (images.min_all().unwrap(), images.max_all().unwrap());
            assert!(
                lo.to_scalar::<f32>().unwrap() >= -1.0 && hi.to_scalar::<f32>().unwrap() <= 1.0
            );
            let d = build_discriminator(&d_config);
            let out = d.forward_t(&images, train).unwrap();
            assert_eq!(out.source.dims(), &[2], "{name}");
            assert_eq!(out.class.dims(), &[2, 10], "{name}");
        }
    }
}

#[test]
fn paper_presets_have_the_paper_layer_widths() {
    let cifar = GeneratorConfig::cifar10();
    assert_eq!(
        (cifar.latent_dim + cifar.num_classes, cifar.initial_channels),
        (110, 384)
    );
    assert_eq!(cifar.channels, vec![192, 96, 3]);
    let imagenet = GeneratorConfig::imagenet128();
    assert_eq!(
        (
            imagenet.latent_dim + imagenet.num_classes,
            imagenet.initial_channels
        ),
        (110, 768)
    );
    assert_eq!(imagenet.channels, vec![384, 256, 192, 3]);
    let widths: Vec<usize> = DiscriminatorConfig::cifar10()
        .layers
        .iter()
        .map(|l| l.out_channels)
        .collect();
    assert_eq!(widths, vec![16, 32, 64, 128, 256, 512]);
}

#[test]
fn embedding_conditioning_builds_and_runs() {
    let config = GeneratorConfig {
        conditioning: Conditioning::EmbeddingProduct,
        ..GeneratorConfig::mnist()
    };
    let (g, vars) = build_generator(&config, 0);
    assert!(vars.data().lock().unwrap().contains_key("embedding"));
    let images = g
        .forward_t(&noise(3, 100, 1), &labels(&[1, 2, 3]), false)
        .unwrap();
    assert_eq!(images.dims(), &[3, 1, 28, 28]);
}

#[test]
fn labels_beyond_the_classes_are_an_error_not_a_gather() {
    let (g, _) = build_generator(&GeneratorConfig::mnist(), 0);
    match g.forward_t(&noise(2, 100, 1), &labels(&[3, 10]), false) {
        Err(Error::LabelOutOfRange {
            label: 10,
            num_classes: 10,
            ..
        }) => {}
        other => panic!("expected LabelOutOfRange, got {other:?}"),
    }
    let embedding = GeneratorConfig {
        conditioning: Conditioning::EmbeddingProduct,
        ..GeneratorConfig::mnist()
    };
    let (g, _) = build_generator(&embedding, 0);
    assert!(matches!(
        g.forward_t(&noise(1, 100, 1), &labels(&[12]), true),
        Err(Error::LabelOutOfRange { .. })
    ));
}

#[test]
fn wrong_shapes_are_errors_that_show_the_shape() {
    let (g, _) = build_generator(&GeneratorConfig::mnist(), 0);
    let err = g
        .forward_t(&noise(2, 64, 1), &labels(&[0, 1]), false)
        .unwrap_err();
    assert!(err.to_string().contains("[2, 64]"), "{err}");
    let err = g
        .forward_t(&noise(2, 100, 1), &labels(&[0, 1, 2]), false)
        .unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
    let float_labels = Tensor::new(&[0f32, 1.0], &Device::Cpu).unwrap();
    assert!(g
        .forward_t(&noise(2, 100, 1), &float_labels, false)
        .is_err());
    let d = build_discriminator(&DiscriminatorConfig::mnist());
    let wrong = Tensor::zeros((2, 3, 28, 28), DType::F32, &Device::Cpu).unwrap();
    let err = d.forward_t(&wrong, false).unwrap_err();
    assert!(err.to_string().contains("[2, 3, 28, 28]"), "{err}");
}

#[test]
fn invalid_configs_are_refused_at_construction() {
    let bad = GeneratorConfig {
        channels: vec![],
        ..GeneratorConfig::mnist()
    };
    let vars = VarMap::new();
    let vb = SeededInit::var_builder(&vars, 0, &Device::Cpu);
    assert!(matches!(
        Generator::new(&bad, vb),
        Err(Error::Config { .. })
    ));
    let bad = DiscriminatorConfig {
        dropout: 1.0,
        ..DiscriminatorConfig::mnist()
    };
    let vb = SeededInit::var_builder(&vars, 0, &Device::Cpu);
    assert!(matches!(
        AuxDiscriminator::new(&bad, vb),
        Err(Error::Config { .. })
    ));
}

fn running_stats(vars: &VarMap) -> Vec<(String, Vec<u32>)> {
    let data = vars.data().lock().unwrap();
    let mut stats: Vec<(String, Vec<u32>)> = data
        .iter()
        .filter(|(name, _)| name.contains("running"))
        .map(|(name, var)| {
            let bits = var
                .as_tensor()
                .to_vec1::<f32>()
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect();
            (name.clone(), bits)
        })
        .collect();
    stats.sort();
    stats
}

#[test]
fn inference_mode_is_per_sample_and_leaves_running_statistics_untouched() {
    let (g, vars) = build_generator(&GeneratorConfig::mnist(), 3);
    // Move the running statistics away from their initial 0 and 1 first.
    let classes: Vec<u32> = (0..64).map(|i| i % 10).collect();
    let batch_noise = noise(64, 100, 9);
    g.forward_t(&batch_noise, &labels(&classes), true).unwrap();
    let before = running_stats(&vars);
    assert!(before
        .iter()
        .any(|(n, bits)| n.ends_with("running_mean") && bits.iter().any(|&b| b != 0)));

    let batch = g.forward_t(&batch_noise, &labels(&classes), false).unwrap();
    let alone = g
        .forward_t(
            &batch_noise.narrow(0, 17, 1).unwrap(),
            &labels(&[classes[17]]),
            false,
        )
        .unwrap();
    let in_batch = batch.narrow(0, 17, 1).unwrap();
    let diff = (alone - in_batch)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(
        diff < 1e-5,
        "sample 17 differs by {diff} alone and in a batch"
    );
    assert_eq!(
        before,
        running_stats(&vars),
        "inference changed the running statistics"
    );
}

#[test]
fn training_mode_updates_running_statistics_with_pytorch_momentum() {
    let (g, vars) = build_generator(&GeneratorConfig::mnist(), 3);
    let before = vars.data().lock().unwrap()["project_bn.running_mean"]
        .as_tensor()
        .to_vec1::<f32>()
        .unwrap();
    assert!(before.iter().all(|&v| v == 0.0));
    let z = noise(8, 100, 2);
    let y = labels(&[0, 1, 2, 3, 4, 5, 6, 7]);
    g.forward_t(&z, &y, true).unwrap();
    let after = vars.data().lock().unwrap()["project_bn.running_mean"]
        .as_tensor()
        .to_vec1::<f32>()
        .unwrap();
    // running = 0.9 * 0 + 0.1 * batch mean; the batch mean of channel 0 is recomputed here
    // from the linear layer's output by hand.
    let vars_data = vars.data().lock().unwrap();
    let w = vars_data["project.weight"].as_tensor().clone();
    let b = vars_data["project.bias"].as_tensor().clone();
    drop(vars_data);
    let hot = Tensor::eye(10, DType::F32, &Device::Cpu)
        .unwrap()
        .narrow(0, 0, 8)
        .unwrap();
    let input = Tensor::cat(&[&z, &hot], 1).unwrap();
    let projected = input
        .matmul(&w.t().unwrap())
        .unwrap()
        .broadcast_add(&b)
        .unwrap();
    let channel0 = projected
        .narrow(1, 0, 49)
        .unwrap()
        .mean_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(
        (after[0] - 0.1 * channel0).abs() < 1e-6,
        "{} vs {}",
        after[0],
        0.1 * channel0
    );
}
