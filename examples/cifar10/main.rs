//! Trains the paper's CIFAR-10 AC-GAN on CIFAR-10 binary batches.
//!
//! `cargo run --release --example cifar10` trains the `cifar10` preset on the 4,000 training
//! images of the bundled real sample (`data/cifar10-sample`) for 300 steps of batch 64: about
//! ten minutes on an otherwise idle 2-core CPU (a step costs about 2.9 CPU-seconds).
//!
//! Expected result: this is a smoke test of the pipeline, not a trained model. The paper
//! trained this network far longer, on all 50,000 images; 300 steps is under half an epoch of
//! the full set. After them, `runs/cifar10/samples/final.png` (ten rows, one per class:
//! airplane, automobile, ..., truck) shows nearly uniform pink-grey tiles with the
//! checkerboard texture of early transposed-convolution training, not objects and not yet
//! class-specific colours; the log's `class_accuracy_real` has risen from chance (0.1) to
//! about 0.2. `samples/real.png` shows real training images in the same layout for
//! comparison. Rows that differ by class need many more steps (`--steps`, `--epochs`,
//! `--resume`); how many was not measured on this CPU.
//!
//! `--data-dir` takes any folder with CIFAR-10's `data_batch_1.bin` .. `data_batch_5.bin`
//! (those present are used), `test_batch.bin` and optionally `batches.meta.txt`, such as the
//! `cifar-10-batches-bin` folder of the official archive. `--classes 3,5` trains on cats and
//! dogs only: the networks are built for two classes and the grid has one row per kept class.

#[path = "../common/mod.rs"]
mod common;

use std::path::PathBuf;

use acgan::data::cifar::load_cifar10_dir;
use acgan::{DiscriminatorConfig, GeneratorConfig, TrainerConfig};
use anyhow::Result;
use clap::Parser;

/// Train the paper's CIFAR-10 AC-GAN. The default 300 steps take about ten minutes on two
/// cores and only start training: the paper trained far longer, and the samples are still
/// textured blobs, not objects.
#[derive(Parser, Debug)]
#[command(
    version,

    mut_arg("steps", |arg| arg.default_value("300")),
    mut_arg("sample_every", |arg| arg.default_value("100"))
)]
struct Args {
    /// Folder with data_batch_1.bin .. data_batch_5.bin (those present are used),
    /// test_batch.bin and optionally batches.meta.txt. Default: the bundled 5,000 real images.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Train on these classes only, comma-separated labels (e.g. 3,5 for cat and dog); they
    /// are renumbered 0, 1, ... in the order given.
    #[arg(long, value_delimiter = ',')]
    classes: Vec<u32>,
    #[command(flatten)]
    run: common::RunArgs,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let device = common::device(&args.run.device)?;
    let dir = common::data_dir(&args.data_dir, "data/cifar10-sample");
    let mut data = load_cifar10_dir(&dir, &device)?.train;
    if !args.classes.is_empty() {
        let (kept, mapping) = data.subset(&args.classes)?;
        println!(
            "keeping classes {:?} as 0..{}",
            mapping.originals(),
            kept.num_classes()
        );
        data = kept;
    }
    println!("{}: {} training images", dir.display(), data.len());
    let classes = data.num_classes();
    let model = common::Model {
        generator: GeneratorConfig {
            num_classes: classes,
            ..GeneratorConfig::cifar10()
        },
        discriminator: DiscriminatorConfig {
            num_classes: classes,
            ..DiscriminatorConfig::cifar10()
        },
        trainer: TrainerConfig {
            seed: args.run.seed,
            ..Default::default()
        },
    };
    common::train("cifar10", &args.run, &data, model)?;
    Ok(())
}
