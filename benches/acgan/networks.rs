//! Forward (inference and training mode) and forward + backward of each network alone.

use acgan::init::SeededInit;
use acgan::{AuxDiscriminator, Generator};
use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use criterion::Criterion;

use crate::{device_name, presets, sync};

pub fn forward_and_backward(c: &mut Criterion) {
    let device = Device::Cpu;
    let dev = device_name(&device);
    for (preset, g_config, d_config, batch) in presets() {
        let vars = VarMap::new();
        let g = Generator::new(&g_config, SeededInit::var_builder(&vars, 0, &device)).unwrap();
        let d_vars = VarMap::new();
        let d =
            AuxDiscriminator::new(&d_config, SeededInit::var_builder(&d_vars, 1, &device)).unwrap();
        let mut rng = acgan::rng::seeded(0);
        let z = g.sample_noise(batch, &mut rng, &device).unwrap();
        let labels: Vec<u32> = (0..batch as u32).map(|i| i % 10).collect();
        let labels = Tensor::new(labels.as_slice(), &device).unwrap();
        let images = g.forward_t(&z, &labels, false).unwrap().detach();

        let id = |what: &str| format!("{dev}/{what}/{preset}/b{batch}");
        c.bench_function(&id("generator_forward_eval"), |b| {
            b.iter(|| {
                let out = g.forward_t(&z, &labels, false).unwrap();
                sync(&device);
                out
            })
        });
        c.bench_function(&id("generator_forward_backward"), |b| {
            b.iter(|| {
                let grads = g
                    .forward_t(&z, &labels, true)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward();
                sync(&device);
                grads.unwrap()
            })
        });
        c.bench_function(&id("discriminator_forward_eval"), |b| {
            b.iter(|| {
                let out = d.forward_t(&images, false).unwrap();
                sync(&device);
                out
            })
        });
        c.bench_function(&id("discriminator_forward_backward"), |b| {
            b.iter(|| {
                let out = d.forward_t(&images, true).unwrap();
                let loss = (out.source.sum_all().unwrap() + out.class.sum_all().unwrap()).unwrap();
                let grads = loss.backward();
                sync(&device);
                grads.unwrap()
            })
        });
    }
}
