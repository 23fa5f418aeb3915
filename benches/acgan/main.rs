//! Criterion benchmarks of the networks' forward and backward passes, of a whole training
//! step, and of loading datasets. `cargo bench` runs them on the CPU; ids read
//! `device/what/preset/batch`.
//! Inputs are built outside the timed closures, and the device is synchronised before the
//! clock is read (a no-op on the CPU, needed on CUDA and Metal).

mod data;
mod networks;
mod ssim;
mod step;

use acgan::{DiscriminatorConfig, GeneratorConfig};
use candle_core::Device;
use criterion::{criterion_group, criterion_main};

/// The presets measured, with the batch sizes that fit this machine's time.
pub fn presets() -> Vec<(&'static str, GeneratorConfig, DiscriminatorConfig, usize)> {
    vec![
        (
            "mnist",
            GeneratorConfig::mnist(),
            DiscriminatorConfig::mnist(),
            64,
        ),
        (
            "cifar10",
            GeneratorConfig::cifar10(),
            DiscriminatorConfig::cifar10(),
            16,
        ),
    ]
}

/// Waits until the device has finished the queued work.
pub fn sync(device: &Device) {
    device.synchronize().expect("device synchronisation failed");
}

/// The name used in benchmark ids.
pub fn device_name(device: &Device) -> &'static str {
    match device {
        Device::Cpu => "cpu",
        Device::Cuda(_) => "cuda",
        Device::Metal(_) => "metal",
    }
}

criterion_group! {
    name = benches;
    config = criterion::Criterion::default().sample_size(10);
    targets =
        networks::forward_and_backward,
        step::training_step,
        data::loading,
        ssim::ms_ssim_pairs
}
criterion_main!(benches);
