use acgan::discriminator::ConvLayer;
use candle_core::Device;
use std::time::Instant;

use acgan::eval::classifier::*;
fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

#[test]
#[ignore]
fn experiment() {
    let dir = env("EXP_DIR", "/usr/share/datasets/fashion-mnist");
    let data = acgan::data::idx::load_mnist_dir(&dir, 10, &Device::Cpu).unwrap();
    let n: usize = env("EXP_N", "60000").parse().unwrap();
    let n = n.min(data.train_images.dim(0).unwrap());
    let layers: Vec<ConvLayer> = env("EXP_LAYERS", "32:1,64:2,64:2")
        .split(',')
        .map(|s| {
            let (c, st) = s.split_once(':').unwrap();
            ConvLayer {
                out_channels: c.parse().unwrap(),
                stride: st.parse().unwrap(),
            }
        })
        .collect();
    let config = ClassifierConfig {
        layers,
        hidden: env("EXP_HIDDEN", "128").parse().unwrap(),
        dropout: env("EXP_DROPOUT", "0.3").parse().unwrap(),
        kernel_size: env("EXP_KERNEL", "3").parse().unwrap(),
        batch_norm: if env("EXP_BN", "1") == "1" {
            Some(Default::default())
        } else {
            None
        },
        ..ClassifierConfig::mnist()
    };
    let training = ClassifierTraining {
        epochs: env("EXP_EPOCHS", "2").parse().unwrap(),
        batch_size: env("EXP_BATCH", "64").parse().unwrap(),
        learning_rate: env("EXP_LR", "1e-3").parse().unwrap(),
        learning_rate_decay: env("EXP_DECAY", "0.5").parse().unwrap(),
        max_shift: env("EXP_SHIFT", "0").parse().unwrap(),
        seed: env("EXP_SEED", "0").parse().unwrap(),
        data: dir.clone(),
    };
    let start = Instant::now();
    let images = data.train_images.narrow(0, 0, n).unwrap();
    let labels = data.train_labels.narrow(0, 0, n).unwrap();
    let c = train_classifier(&config, &images, &labels, &training, |s| {
        eprintln!("{:?} at {:.1}s", s, start.elapsed().as_secs_f64())
    })
    .unwrap();
    let t = start.elapsed().as_secs_f64();
    let r = c
        .accuracy(
            &data.test_images,
            &data.test_labels,
            ValueRange::MinusOneToOne,
            "test",
        )
        .unwrap();
    eprintln!(
        "RESULT train {t:.1}s eval {:.1}s acc {:.4} per_class {:?}",
        start.elapsed().as_secs_f64() - t,
        r.overall,
        r.per_class
            .iter()
            .map(|v| (v * 1000.0).round() / 1000.0)
            .collect::<Vec<_>>()
    );
}
