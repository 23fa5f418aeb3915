//! One whole training step: fakes, a D update and a G update.

use acgan::{Trainer, TrainerConfig};
use candle_core::{Device, Tensor};
use criterion::Criterion;

use crate::{device_name, presets, sync};

pub fn training_step(c: &mut Criterion) {
    let device = Device::Cpu;
    for (preset, g_config, d_config, batch) in presets() {
        let mut trainer =
            Trainer::new(&g_config, &d_config, TrainerConfig::default(), &device).unwrap();
        let side = d_config.image_size;
        let shape = (batch, d_config.image_channels, side, side);
        let images = Tensor::randn(0f32, 0.5, shape, &device)
            .unwrap()
            .clamp(-1f32, 1f32)
            .unwrap();
        let labels: Vec<u32> = (0..batch as u32).map(|i| i % 10).collect();
        let labels = Tensor::new(labels.as_slice(), &device).unwrap();
        let id = format!("{}/train_step/{preset}/b{batch}", device_name(&device));
        c.bench_function(&id, |b| {
            b.iter(|| {
                let stats = trainer.step(&images, &labels).unwrap();
                sync(&device);
                stats
            })
        });
    }
}
