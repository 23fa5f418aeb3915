//! Loading datasets from disk into tensors: Fashion-MNIST in full (Debian's
//! `dataset-fashion-mnist`, 70,000 gzip-compressed images; skipped with a note when it is
//! not installed) and the bundled CIFAR-10 sample (5,000 images).

use std::path::Path;

use acgan::data::cifar::load_cifar10_dir;
use acgan::data::idx::load_fashion_mnist;
use candle_core::Device;
use criterion::Criterion;

use crate::{device_name, sync};

/// Where Debian's package installs Fashion-MNIST.
const FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

pub fn loading(c: &mut Criterion) {
    let device = Device::Cpu;
    let name = device_name(&device);
    if Path::new(FASHION_MNIST)
        .join("train-images-idx3-ubyte.gz")
        .is_file()
    {
        c.bench_function(&format!("{name}/load/fashion-mnist/70000"), |b| {
            b.iter(|| {
                let data = load_fashion_mnist(FASHION_MNIST, &device).unwrap();
                sync(&device);
                data
            })
        });
    } else {
        eprintln!("{FASHION_MNIST} not found: apt-get install dataset-fashion-mnist");
    }
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/cifar10-sample");
    c.bench_function(&format!("{name}/load/cifar10-sample/5000"), |b| {
        b.iter(|| {
            let data = load_cifar10_dir(&sample, &device).unwrap();
            sync(&device);
            data
        })
    });
}
