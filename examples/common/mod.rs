//! What the training examples share: device choice, batching, the training loop with its
//! progress bar, sample grids, checkpoints and log.

#![allow(dead_code)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use acgan::grid::{self, Picture};
use acgan::{DiscriminatorConfig, GeneratorConfig, Trainer, TrainerConfig};
use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;

/// Options every training example takes.
#[derive(clap::Args, Debug, Clone, serde::Serialize)]
pub struct RunArgs {
    /// Total number of training steps (one D and one G update each). Ignored if --epochs is set.
    #[arg(long, default_value_t = 1200)]
    pub steps: u64,
    /// Train for this many passes over the training images instead of --steps.
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Real images per step (and as many generated ones).
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Seeds the weights, the noise, the data order and the dropout masks.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder for sample grids, checkpoints and the log.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Continue from this checkpoint (its configuration and step count are kept; --steps is
    /// the total to reach).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Where to compute: cpu, cuda or metal (the last two need the crate feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Write a sample grid and a checkpoint every this many steps.
    #[arg(long, default_value_t = 200)]
    pub sample_every: u64,
}

/// Opens the device named on the command line.
pub fn device(name: &str) -> Result<Device> {
    Ok(match name {
        "cpu" => Device::Cpu,
        "cuda" => Device::new_cuda(0).context("opening CUDA device 0")?,
        "metal" => Device::new_metal(0).context("opening Metal device 0")?,
        other => bail!("unknown device {other:?}: use cpu, cuda or metal"),
    })
}

/// Training images and labels on the device.
pub struct TrainData {
    /// `(n, channels, size, size)` in [-1, 1].
    pub images: Tensor,
    /// `(n,)` u32.
    pub labels: Tensor,
    /// Names of the classes, in label order.
    pub class_names: Vec<String>,
}

/// The batch for a given step: epoch `step / batches_per_epoch` visits the images in an
/// order seeded by (seed, epoch), so a resumed run sees the same batches. The last partial
/// batch of an epoch is dropped.
fn batch_for_step(
    data: &TrainData,
    step: u64,
    batch: usize,
    seed: u64,
) -> Result<(Tensor, Tensor)> {
    let n = data.images.dims()[0];
    let per_epoch = (n / batch) as u64;
    let (epoch, index) = (step / per_epoch, (step % per_epoch) as usize);
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(&mut acgan::rng::seeded(
        seed ^ epoch.wrapping_mul(0x9e37_79b9_7f4a_7c15),
    ));
    let picks = Tensor::new(
        &order[index * batch..(index + 1) * batch],
        data.images.device(),
    )?;
    Ok((
        data.images.index_select(&picks, 0)?,
        data.labels.index_select(&picks, 0)?,
    ))
}

/// A grid with one row per class and one column per fixed noise vector (the same noise along
/// each column: a class-swap view), generated in inference mode.
pub fn class_grid(trainer: &Trainer, noise: &Tensor) -> Result<Picture> {
    let columns = noise.dims()[0];
    let classes = trainer.generator().config().num_classes;
    let rows: Vec<u32> = (0..classes * columns)
        .map(|i| (i % columns) as u32)
        .collect();
    let labels: Vec<u32> = (0..classes * columns)
        .map(|i| (i / columns) as u32)
        .collect();
    let device = noise.device();
    let noise = noise.index_select(&Tensor::new(rows.as_slice(), device)?, 0)?;
    let images = trainer.generate_with_noise(&noise, &Tensor::new(labels.as_slice(), device)?)?;
    Ok(grid::tile(&images, columns, 2)?)
}

/// Writes a picture as PNG.
pub fn save_png(path: &Path, picture: &Picture) -> Result<()> {
    let color = if picture.channels == 1 {
        image::ExtendedColorType::L8
    } else {
        image::ExtendedColorType::Rgb8
    };
    let (w, h) = (picture.width as u32, picture.height as u32);
    image::save_buffer(path, &picture.pixels, w, h, color)
        .with_context(|| format!("writing {}", path.display()))
}

/// The networks and settings of a fresh run.
pub struct Model {
    pub generator: GeneratorConfig,
    pub discriminator: DiscriminatorConfig,
    pub trainer: TrainerConfig,
}

/// Trains on `data` as `args` say and returns the folder everything was written to.
pub fn train(name: &str, args: &RunArgs, data: &TrainData, model: Model) -> Result<PathBuf> {
    let device = data.images.device().clone();
    let out = args
        .out_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(name));
    std::fs::create_dir_all(out.join("samples"))
        .with_context(|| format!("creating {}", out.display()))?;
    let mut trainer = match &args.resume {
        Some(path) => Trainer::load(path, &device)?,
        None => Trainer::new(
            &model.generator,
            &model.discriminator,
            model.trainer,
            &device,
        )?,
    };
    let n = data.images.dims()[0];
    if n < args.batch_size {
        bail!(
            "{n} training images are fewer than one batch of {}",
            args.batch_size
        );
    }
    let total = match args.epochs {
        Some(epochs) => epochs * (n / args.batch_size) as u64,
        None => args.steps,
    };
    save_run_config(&out, args, &trainer)?;
    let mut fixed_rng = acgan::rng::seeded(args.seed ^ 0xf1ed);
    let fixed_noise = trainer
        .generator()
        .sample_noise(10, &mut fixed_rng, &device)?;
    let log_path = out.join("log.jsonl");
    let mut log = open_log(&log_path, args.resume.is_some())?;
    let bar = progress_bar(total, trainer.step_count());
    let seed = trainer.config().seed;
    let started = Instant::now();
    while trainer.step_count() < total {
        let (x, y) = batch_for_step(data, trainer.step_count(), args.batch_size, seed)?;
        let stats = trainer.step(&x, &y)?;
        writeln!(log, "{}", serde_json::to_string(&stats)?)?;
        bar.set_position(stats.step);
        bar.set_message(format!(
            "D {:.3} G {:.3} | D acc real {:.2} fake {:.2} | class acc real {:.2} fake {:.2}",
            stats.d_loss,
            stats.g_loss,
            stats.d_accuracy_real,
            stats.d_accuracy_fake,
            stats.class_accuracy_real,
            stats.class_accuracy_fake
        ));
        if stats.step % args.sample_every == 0 && stats.step < total {
            let grid = class_grid(&trainer, &fixed_noise)?;
            save_png(
                &out.join(format!("samples/step-{:06}.png", stats.step)),
                &grid,
            )?;
            trainer.save(out.join("checkpoint.safetensors"))?;
        }
    }
    bar.finish();
    log.flush()?;
    save_png(
        &out.join("samples/final.png"),
        &class_grid(&trainer, &fixed_noise)?,
    )?;
    trainer.save(out.join("checkpoint.safetensors"))?;
    let seconds = started.elapsed().as_secs_f64();
    println!("trained to step {} in {seconds:.1} s", trainer.step_count());
    println!("  samples:    {}", out.join("samples/final.png").display());
    println!(
        "  checkpoint: {}",
        out.join("checkpoint.safetensors").display()
    );
    println!("  log:        {}", log_path.display());
    println!("  config:     {}", out.join("config.json").display());
    Ok(out)
}

fn progress_bar(total: u64, done: u64) -> ProgressBar {
    let bar = ProgressBar::new(total).with_position(done);
    let style =
        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed_precise} eta {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

fn open_log(path: &Path, append: bool) -> Result<BufWriter<File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    Ok(BufWriter::new(file))
}

/// Writes the run's configuration (networks, training settings, arguments) beside the
/// checkpoint.
fn save_run_config(out: &Path, args: &RunArgs, trainer: &Trainer) -> Result<()> {
    let config = serde_json::json!({
        "generator": trainer.generator().config(),
        "discriminator": trainer.discriminator().config(),
        "trainer": trainer.config(),
        "arguments": args,
    });
    let path = out.join("config.json");
    std::fs::write(&path, serde_json::to_string_pretty(&config)?)
        .with_context(|| format!("writing {}", path.display()))
}
