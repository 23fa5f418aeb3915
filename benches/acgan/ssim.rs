//! SSIM and MS-SSIM on batches of image pairs, as the diversity measure uses them: 100 pairs
//! of MNIST-sized (28x28) and CIFAR-sized (32x32x3) images in [0, 1]. The results are read
//! back to the host, so each iteration ends with the device idle.

use acgan::eval::ssim::{ms_ssim, ssim, SsimConfig};
use candle_core::{Device, Tensor};
use criterion::Criterion;
use rand::Rng;

use crate::device_name;

/// `pairs` seeded pairs of `(channels, side, side)` images in [0, 1).
fn image_pairs(pairs: usize, channels: usize, side: usize, device: &Device) -> (Tensor, Tensor) {
    let mut rng = acgan::rng::seeded(0);
    let dims = (pairs, channels, side, side);
    let mut draw = || {
        let values: Vec<f32> = (0..pairs * channels * side * side)
            .map(|_| rng.random())
            .collect();
        Tensor::from_vec(values, dims, device).unwrap()
    };
    (draw(), draw())
}

pub fn ms_ssim_pairs(c: &mut Criterion) {
    let device = Device::Cpu;
    let dev = device_name(&device);
    let config = SsimConfig::default();
    for (channels, side, pairs) in [(1, 28, 100), (3, 32, 100)] {
        let (a, b) = image_pairs(pairs, channels, side, &device);
        let size = match channels {
            1 => format!("{side}x{side}"),
            _ => format!("{side}x{side}x{channels}"),
        };
        c.bench_function(&format!("{dev}/ms_ssim/{size}/{pairs}_pairs"), |bench| {
            bench.iter(|| ms_ssim(&a, &b, &config).unwrap())
        });
        c.bench_function(&format!("{dev}/ssim/{size}/{pairs}_pairs"), |bench| {
            bench.iter(|| ssim(&a, &b, &config).unwrap())
        });
    }
}
