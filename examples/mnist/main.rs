//! Trains an AC-GAN on MNIST-format digits.
//!
//! `cargo run --release --example mnist` trains the `mnist` preset on the 4,000 bundled real
//! digits for 1,200 steps of batch 64, in about five and a half minutes on an idle 2-core CPU (0.27 s a step). Expected result:
//! `runs/mnist/samples/final.png` shows ten rows of digits, row `k` reading as the digit `k`,
//! with the same noise (so the same style: slant, stroke width) down each column.
//!
//! Any folder holding the four standard MNIST files (plain or `.gz`) works with `--data-dir`,
//! for example the full MNIST or Fashion-MNIST (Debian's `dataset-fashion-mnist` installs it
//! in `/usr/share/datasets/fashion-mnist`; add `--fashion` to name its classes).

#[path = "../common/mod.rs"]
mod common;

use std::path::PathBuf;

use acgan::data::idx::{load_split, DIGIT_CLASSES, FASHION_MNIST_CLASSES};
use acgan::{DiscriminatorConfig, GeneratorConfig, TrainerConfig};
use anyhow::Result;
use clap::Parser;

/// Train an AC-GAN on MNIST-format digits.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
    /// t10k-labels-idx1-ubyte (each plain or .gz). Default: the bundled 4,000 real digits.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Name the classes as Fashion-MNIST's (T-shirt/top, Trouser, ...) instead of digits.
    #[arg(long)]
    fashion: bool,
    #[command(flatten)]
    run: common::RunArgs,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let device = common::device(&args.run.device)?;
    let dir = common::data_dir(&args.data_dir, "data/mnist-5k");
    let names = if args.fashion {
        FASHION_MNIST_CLASSES
    } else {
        DIGIT_CLASSES
    };
    let data = load_split(&dir, &names, &device)?.train;
    println!("{}: {} training images", dir.display(), data.len());
    let model = common::Model {
        generator: GeneratorConfig::mnist(),
        discriminator: DiscriminatorConfig::mnist(),
        trainer: TrainerConfig {
            seed: args.run.seed,
            ..Default::default()
        },
    };
    common::train("mnist", &args.run, &data, model)?;
    Ok(())
}
