//! What the training examples share: device choice, the training loop with its progress bar,
//! sample grids, checkpoints and log. Batches come from [`Dataset::batch_at_step`], which
//! depends on (seed, step) alone, so a resumed run sees the batches an uninterrupted one would.

#![allow(dead_code)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use acgan::data::{Batching, Dataset, LastBatch};
use acgan::grid::{self, Picture};
use acgan::{DiscriminatorConfig, GeneratorConfig, StepStats, Trainer, TrainerConfig};
use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};

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

/// The folder given with `--data-dir`, or the bundled one at `bundled` in this repository.
pub fn data_dir(given: &Option<PathBuf>, bundled: &str) -> PathBuf {
    given
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(bundled))
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

/// Real training images for comparison with the samples: row `k` holds the first images of
/// class `k`, as many per row as the smallest class allows, up to `columns`. `None` when a
/// class has no image.
pub fn real_grid(data: &Dataset, columns: usize) -> Result<Option<Picture>> {
    let labels = data.labels().to_vec1::<u32>()?;
    let of_class = |class: u32| {
        let all = labels.iter().enumerate().filter(move |&(_, &l)| l == class);
        all.map(|(i, _)| i as u32)
    };
    let counts = data.class_counts()?;
    let columns = columns.min(counts.into_iter().min().unwrap_or(0));
    if columns == 0 {
        return Ok(None);
    }
    let picks: Vec<u32> = (0..data.num_classes() as u32)
        .flat_map(|class| of_class(class).take(columns))
        .collect();
    let (images, _) = data.gather(&picks)?;
    Ok(Some(grid::tile(&images, columns, 2)?))
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
pub fn train(name: &str, args: &RunArgs, data: &Dataset, model: Model) -> Result<PathBuf> {
    let out = args
        .out_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(name));
    std::fs::create_dir_all(out.join("samples"))
        .with_context(|| format!("creating {}", out.display()))?;
    let mut trainer = open_trainer(args, data, model)?;
    let batching = Batching {
        batch_size: args.batch_size,
        seed: trainer.config().seed,
        last: LastBatch::Drop,
    };
    let total = total_steps(args, data, &batching)?;
    save_run_config(&out, args, &trainer, data.class_names())?;
    println!(
        "sample grids, top to bottom: {}",
        row_legend(data.class_names())
    );
    if let Some(real) = real_grid(data, 10)? {
        save_png(&out.join("samples/real.png"), &real)?;
    }
    let device = data.device().clone();
    let mut fixed_rng = acgan::rng::seeded(args.seed ^ 0xf1ed);
    let fixed_noise = trainer
        .generator()
        .sample_noise(10, &mut fixed_rng, &device)?;
    let log_path = out.join("log.jsonl");
    let mut log = open_log(&log_path, args.resume.is_some())?;
    let bar = progress_bar(total, trainer.step_count());
    let started = Instant::now();
    while trainer.step_count() < total {
        let (x, y) = data.batch_at_step(&batching, trainer.step_count())?;
        let stats = trainer.step(&x, &y)?;
        writeln!(log, "{}", serde_json::to_string(&stats)?)?;
        bar.set_position(stats.step);
        bar.set_message(stats_line(&stats));
        if stats.step % args.sample_every == 0 && stats.step < total {
            let path = out.join(format!("samples/step-{:06}.png", stats.step));
            save_png(&path, &class_grid(&trainer, &fixed_noise)?)?;
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

/// A fresh trainer, or the one in `--resume`, checked against the classes of `data`.
fn open_trainer(args: &RunArgs, data: &Dataset, model: Model) -> Result<Trainer> {
    let device = data.device();
    let trainer = match &args.resume {
        Some(path) => Trainer::load(path, device)?,
        None => Trainer::new(
            &model.generator,
            &model.discriminator,
            model.trainer,
            device,
        )?,
    };
    let classes = trainer.generator().config().num_classes;
    if classes != data.num_classes() {
        bail!(
            "the model has {classes} classes but the data has {}: resume with the same \
             --classes as the run that wrote the checkpoint",
            data.num_classes()
        );
    }
    Ok(trainer)
}

/// The step count to reach: `--steps`, or `--epochs` whole epochs of full batches.
fn total_steps(args: &RunArgs, data: &Dataset, batching: &Batching) -> Result<u64> {
    let per_epoch = data.batches_per_epoch(batching) as u64;
    if per_epoch == 0 {
        bail!(
            "{} training images are fewer than one batch of {}",
            data.len(),
            args.batch_size
        );
    }
    Ok(match args.epochs {
        Some(epochs) => epochs * per_epoch,
        None => args.steps,
    })
}

/// "0 airplane, 1 automobile, ...": which class each grid row shows.
fn row_legend(class_names: &[String]) -> String {
    let rows: Vec<String> = class_names
        .iter()
        .enumerate()
        .map(|(row, name)| format!("row {row}: {name}"))
        .collect();
    rows.join(", ")
}

/// The progress bar's message: losses and accuracies of the last step.
fn stats_line(stats: &StepStats) -> String {
    format!(
        "D {:.3} G {:.3} | D acc real {:.2} fake {:.2} | class acc real {:.2} fake {:.2}",
        stats.d_loss,
        stats.g_loss,
        stats.d_accuracy_real,
        stats.d_accuracy_fake,
        stats.class_accuracy_real,
        stats.class_accuracy_fake
    )
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

/// Writes the run's configuration (networks, training settings, arguments, the class name of
/// each label) beside the checkpoint.
fn save_run_config(
    out: &Path,
    args: &RunArgs,
    trainer: &Trainer,
    class_names: &[String],
) -> Result<()> {
    let config = serde_json::json!({
        "generator": trainer.generator().config(),
        "discriminator": trainer.discriminator().config(),
        "trainer": trainer.config(),
        "arguments": args,
        "class_names": class_names,
    });
    let path = out.join("config.json");
    std::fs::write(&path, serde_json::to_string_pretty(&config)?)
        .with_context(|| format!("writing {}", path.display()))
}
