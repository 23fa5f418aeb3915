//! Writes samples of a trained generator as PNG files and as MNIST-format IDX files.
//!
//! `cargo run --release --example generate -- --checkpoint runs/mnist/checkpoint.safetensors`
//! writes 10 samples of every class to `runs/generate/`: `png/<class>/<index>.png`, a grid
//! `grid.png` (one row per class), and for grey images `generated-images-idx3-ubyte` with
//! `generated-labels-idx1-ubyte`, which any MNIST reader loads (labels are the classes the
//! samples were generated for).

#[path = "../common/mod.rs"]
mod common;

use std::path::PathBuf;

use acgan::data::idx::{self, IdxImages};
use acgan::grid;
use anyhow::{bail, Context, Result};
use candle_core::Tensor;
use clap::Parser;

/// Sample a trained AC-GAN generator.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// A checkpoint written by the training examples or `Trainer::save`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Samples per class.
    #[arg(long, default_value_t = 10)]
    per_class: usize,
    /// Comma-separated classes to sample (default: all).
    #[arg(long, value_delimiter = ',')]
    classes: Option<Vec<u32>>,
    /// Seeds the noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder.
    #[arg(long, default_value = "runs/generate")]
    out_dir: PathBuf,
    /// cpu, cuda or metal.
    #[arg(long, default_value = "cpu")]
    device: String,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let device = common::device(&args.device)?;
    let generator = acgan::checkpoint::load_generator(&args.checkpoint, &device)?;
    let num_classes = generator.config().num_classes as u32;
    let classes = args
        .classes
        .clone()
        .unwrap_or_else(|| (0..num_classes).collect());
    if let Some(bad) = classes.iter().find(|&&c| c >= num_classes) {
        bail!("class {bad} does not exist: the generator has {num_classes} classes");
    }
    let labels: Vec<u32> = classes
        .iter()
        .flat_map(|&c| std::iter::repeat_n(c, args.per_class))
        .collect();
    let mut rng = acgan::rng::seeded(args.seed);
    let noise = generator.sample_noise(labels.len(), &mut rng, &device)?;
    let label_tensor = Tensor::new(labels.as_slice(), &device)?;
    let images = generator.forward_t(&noise, &label_tensor, false)?;

    write_pngs(&args, &images, &labels)?;
    common::save_png(
        &args.out_dir.join("grid.png"),
        &grid::tile(&images, args.per_class, 2)?,
    )?;
    if images.dims()[1] == 1 {
        let idx_images: IdxImages = idx::tensor_to_images(&images)?;
        idx::write_images(
            args.out_dir.join("generated-images-idx3-ubyte"),
            &idx_images,
        )?;
        let bytes: Vec<u8> = labels.iter().map(|&l| l as u8).collect();
        idx::write_labels(args.out_dir.join("generated-labels-idx1-ubyte"), &bytes)?;
        println!(
            "IDX files: {}/generated-*-idx?-ubyte",
            args.out_dir.display()
        );
    } else {
        println!("IDX files skipped: MNIST's format holds grey images only");
    }
    println!(
        "{} samples of classes {classes:?} in {}",
        labels.len(),
        args.out_dir.display()
    );
    Ok(())
}

fn write_pngs(args: &Args, images: &Tensor, labels: &[u32]) -> Result<()> {
    for (i, &label) in labels.iter().enumerate() {
        let dir = args.out_dir.join("png").join(label.to_string());
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let picture = grid::tile(&images.narrow(0, i, 1)?, 1, 0)?;
        common::save_png(
            &dir.join(format!("{:04}.png", i % args.per_class)),
            &picture,
        )?;
    }
    Ok(())
}
