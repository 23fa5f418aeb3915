//! Turns a generator checkpoint into a report a person can read: the paper's evaluation.
//!
//! `cargo run --release --example evaluate -- --checkpoint runs/mnist/checkpoint.safetensors`
//! writes `runs/evaluate/index.html` with PNG sample grids, interpolations, class swaps and
//! nearest training images, a per-class table (classifier accuracy on generated and real
//! images, MS-SSIM diversity of both), a scatter of generated against real diversity, the
//! accuracy-against-resolution curve, Inception Score and Frechet distance in the judging
//! classifier's feature space, and the training curves from the run's `log.jsonl`.
//!
//! The judging classifier is loaded from `--classifier`, or trained on the data's training
//! split and saved to `<out-dir>/classifier.safetensors` (about a minute on two cores for the
//! bundled digits). Its test accuracy is in the report: figures from a classifier are only as
//! good as it is.

#[path = "../common/mod.rs"]
mod common;
mod html;
mod plots;

use std::path::{Path, PathBuf};
use std::time::Instant;

use acgan::data::idx::load_split;
use acgan::eval::classifier::{
    train_classifier, AccuracyReport, Classifier, ClassifierConfig, ClassifierTraining, ValueRange,
};
use acgan::eval::diversity::{class_diversity, compare, DiversityConfig, DiversityReport};
use acgan::eval::latent::{
    class_swap, interpolation_grid, nearest_neighbours, side_by_side, Interpolation,
};
use acgan::eval::resolution::{accuracy_by_resolution, default_sizes, ResolutionPoint};
use acgan::eval::scores::{
    frechet_distance_from_features, inception_score, FeatureModel, InceptionScore,
};
use acgan::{grid, Generator};
use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use clap::Parser;

/// Evaluate an AC-GAN generator the way the paper does, as an HTML report.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Generator checkpoint (written by the training examples or `Trainer::save`).
    #[arg(long)]
    checkpoint: PathBuf,
    /// MNIST-format folder of real data (train and t10k files). Default: the bundled digits.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Comma-separated class names (default: 0, 1, 2, ...).
    #[arg(long, value_delimiter = ',')]
    class_names: Option<Vec<String>>,
    /// A classifier checkpoint to judge with; without it one is trained and saved.
    #[arg(long)]
    classifier: Option<PathBuf>,
    /// Generated samples per class for accuracy, diversity, IS and FD.
    #[arg(long, default_value_t = 100)]
    samples_per_class: usize,
    /// The training log to plot (default: log.jsonl beside the checkpoint, if present).
    #[arg(long)]
    log: Option<PathBuf>,
    /// Seeds the samples, the pairs and the classifier's training.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder.
    #[arg(long, default_value = "runs/evaluate")]
    out_dir: PathBuf,
    /// cpu, cuda or metal.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Everything the report shows, also written as `report.json`.
#[derive(serde::Serialize)]
pub struct Figures {
    pub checkpoint: String,
    pub data: String,
    pub classifier: String,
    pub classifier_test_accuracy: f64,
    pub class_names: Vec<String>,
    pub generated_accuracy: AccuracyReport,
    pub real_accuracy: AccuracyReport,
    pub diversity: DiversityReport,
    pub resolution_generated: Vec<ResolutionPoint>,
    pub resolution_real: Vec<ResolutionPoint>,
    pub inception_score_generated: InceptionScore,
    pub inception_score_real: InceptionScore,
    pub frechet_distance: f64,
    pub seconds: f64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let device = common::device(&args.device)?;
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("creating {}", args.out_dir.display()))?;
    let generator = acgan::checkpoint::load_generator(&args.checkpoint, &device)?;
    let classes = generator.config().num_classes;
    let names = args
        .class_names
        .clone()
        .unwrap_or_else(|| (0..classes).map(|c| c.to_string()).collect());
    if names.len() != classes {
        bail!(
            "{} class names given, the generator has {classes} classes",
            names.len()
        );
    }
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/mnist-5k"));
    let split = load_split(&dir, &names, &device)?;
    let (train, test) = (&split.train, &split.test);
    println!(
        "real data: {} ({} train, {} test)",
        dir.display(),
        train.len(),
        test.len()
    );

    let classifier = classifier(&args, train.images(), train.labels(), &dir)?;
    let range = ValueRange::MinusOneToOne;
    let real_accuracy =
        classifier.accuracy(test.images(), test.labels(), range, "real t10k split")?;
    println!(
        "classifier: {} (test accuracy {:.4})",
        classifier.describe(),
        real_accuracy.overall
    );

    let (samples, labels) = generate(&generator, args.samples_per_class, args.seed, &device)?;
    let drawn_by = format!("generated by {}", args.checkpoint.display());
    let generated_accuracy = classifier.accuracy(&samples, &labels, range, &drawn_by)?;
    let sizes = default_sizes(generator.config().image_size());
    let resolution_generated =
        accuracy_by_resolution(&classifier, &samples, &labels, range, &sizes)?;
    let resolution_real =
        accuracy_by_resolution(&classifier, test.images(), test.labels(), range, &sizes)?;

    let config = DiversityConfig {
        seed: args.seed,
        ..Default::default()
    };
    let generated_div = class_diversity(&samples, &labels, classes, &config)?;
    let real_div = class_diversity(test.images(), test.labels(), classes, &config)?;
    let diversity = compare(&generated_div, &real_div)?;

    // The splits are contiguous, so interleave the classes: a split of one class alone would
    // score 1 whatever the samples look like.
    let p_generated = classifier.probabilities(&interleave(&samples, classes)?)?;
    let p_real = classifier.probabilities(test.images())?;
    let splits = 10.min(samples.dims()[0]).min(test.len());
    let inception_score_generated = inception_score(&p_generated, splits)?;
    let inception_score_real = inception_score(&p_real, splits)?;
    let frechet_distance = frechet_distance_from_features(
        &classifier.features(&samples)?,
        &classifier.features(test.images())?,
    )?;

    write_pictures(
        &args.out_dir,
        &generator,
        &samples,
        train.images(),
        args.seed,
        &device,
    )?;
    let figures = Figures {
        checkpoint: args.checkpoint.display().to_string(),
        data: dir.display().to_string(),
        classifier: classifier.describe(),
        classifier_test_accuracy: real_accuracy.overall,
        class_names: names,
        generated_accuracy,
        real_accuracy,
        diversity,
        resolution_generated,
        resolution_real,
        inception_score_generated,
        inception_score_real,
        frechet_distance,
        seconds: started.elapsed().as_secs_f64(),
    };
    write_plots(&args, &figures)?;
    let json = args.out_dir.join("report.json");
    std::fs::write(&json, serde_json::to_string_pretty(&figures)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let page = args.out_dir.join("index.html");
    std::fs::write(&page, html::page(&figures, log_path(&args).is_some()))
        .with_context(|| format!("writing {}", page.display()))?;
    print_summary(&figures, &page);
    Ok(())
}

/// Loads the classifier, or trains one on the training split and saves it.
fn classifier(args: &Args, images: &Tensor, labels: &Tensor, dir: &Path) -> Result<Classifier> {
    if let Some(path) = &args.classifier {
        return Ok(Classifier::load(path, images.device())?);
    }
    let (side, channels) = (images.dims()[2], images.dims()[1]);
    let num_classes = labels.max(0)?.to_scalar::<u32>()? as usize + 1;
    let config = ClassifierConfig {
        image_size: side,
        image_channels: channels,
        num_classes,
        ..ClassifierConfig::mnist()
    };
    // Small training sets (the bundled 4,000 digits) need more epochs and shifted copies;
    // large ones (60,000 Fashion-MNIST images) need neither. Both presets were measured.
    let preset = if images.dims()[0] < 20_000 {
        ClassifierTraining::mnist_subset()
    } else {
        ClassifierTraining::fashion_mnist()
    };
    let training = ClassifierTraining {
        seed: args.seed,
        data: format!("{} train", dir.display()),
        ..preset
    };
    println!(
        "training the judging classifier on {} images ...",
        images.dims()[0]
    );
    let classifier = train_classifier(&config, images, labels, &training, |e| {
        println!(
            "  epoch {}: loss {:.4}, training accuracy {:.4}",
            e.epoch, e.loss, e.accuracy
        );
    })?;
    let path = args.out_dir.join("classifier.safetensors");
    classifier.save(&path)?;
    Ok(Classifier::load(&path, images.device())?)
}

/// `per_class` samples of every class, class-major, from seeded noise, in inference mode.
fn generate(
    g: &Generator,
    per_class: usize,
    seed: u64,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let classes = g.config().num_classes as u32;
    let labels: Vec<u32> = (0..classes)
        .flat_map(|c| std::iter::repeat_n(c, per_class))
        .collect();
    let noise = g.sample_noise(labels.len(), &mut acgan::rng::seeded(seed), device)?;
    let labels = Tensor::new(labels.as_slice(), device)?;
    Ok((g.forward_t(&noise, &labels, false)?, labels))
}

/// Reorders class-major rows (all of class 0, then class 1, ...) to cycle through the classes.
fn interleave(samples: &Tensor, classes: usize) -> Result<Tensor> {
    let per_class = samples.dims()[0] / classes;
    let order: Vec<u32> = (0..per_class * classes)
        .map(|i| ((i % classes) * per_class + i / classes) as u32)
        .collect();
    Ok(samples.index_select(&Tensor::new(order.as_slice(), samples.device())?, 0)?)
}

/// The sample grid, class swaps, walks and nearest neighbours, as PNG files.
fn write_pictures(
    out: &Path,
    g: &Generator,
    samples: &Tensor,
    train: &Tensor,
    seed: u64,
    device: &Device,
) -> Result<()> {
    let classes = g.config().num_classes;
    let per_class = samples.dims()[0] / classes;
    let first_ten: Vec<u32> = (0..classes)
        .flat_map(|c| (0..10.min(per_class)).map(move |i| (c * per_class + i) as u32))
        .collect();
    let grid_images = samples.index_select(&Tensor::new(first_ten.as_slice(), device)?, 0)?;
    common::save_png(
        &out.join("samples.png"),
        &grid::tile(&grid_images, 10.min(per_class), 2)?,
    )?;

    let mut rng = acgan::rng::seeded(seed ^ 0x5a5a);
    let noise = g.sample_noise(10, &mut rng, device)?;
    let all: Vec<u32> = (0..classes as u32).collect();
    common::save_png(
        &out.join("class_swap.png"),
        &grid::tile(&class_swap(g, &noise, &all)?, 10, 2)?,
    )?;

    for (name, kind) in [
        ("linear", Interpolation::Linear),
        ("spherical", Interpolation::Spherical),
    ] {
        let start = g.sample_noise(classes, &mut acgan::rng::seeded(seed ^ 0x51), device)?;
        let end = g.sample_noise(classes, &mut acgan::rng::seeded(seed ^ 0x52), device)?;
        let rows: Vec<Tensor> = (0..classes)
            .map(|c| {
                interpolation_grid(
                    g,
                    &start.narrow(0, c, 1)?,
                    &end.narrow(0, c, 1)?,
                    c as u32,
                    10,
                    kind,
                )
            })
            .collect::<acgan::Result<_>>()?;
        let walk = Tensor::cat(&rows, 0)?;
        common::save_png(
            &out.join(format!("interpolation_{name}.png")),
            &grid::tile(&walk, 10, 2)?,
        )?;
    }

    let one_per_class: Vec<u32> = (0..classes).map(|c| (c * per_class) as u32).collect();
    let picks = samples.index_select(&Tensor::new(one_per_class.as_slice(), device)?, 0)?;
    let neighbours = nearest_neighbours(&picks, train, 5)?;
    let rows = side_by_side(&picks, train, &neighbours)?;
    common::save_png(
        &out.join("nearest_neighbours.png"),
        &grid::tile(&rows, 6, 2)?,
    )?;
    Ok(())
}

fn log_path(args: &Args) -> Option<PathBuf> {
    let default = args.checkpoint.parent().map(|p| p.join("log.jsonl"));
    args.log.clone().or(default).filter(|p| p.exists())
}

fn write_plots(args: &Args, f: &Figures) -> Result<()> {
    let out = &args.out_dir;
    let points: Vec<(String, f64, f64)> = f
        .class_names
        .iter()
        .enumerate()
        .filter_map(|(c, name)| {
            Some((
                name.clone(),
                f.diversity.real[c]?,
                f.diversity.generated[c]?,
            ))
        })
        .collect();
    plots::diversity_scatter(
        &out.join("diversity.svg"),
        &points,
        f.diversity.least_diverse_real,
    )?;
    let curve = |name: &str, pts: &[ResolutionPoint]| plots::Line {
        name: name.into(),
        points: pts.iter().map(|p| (p.size as f64, p.accuracy)).collect(),
    };
    let lines = [
        curve("generated", &f.resolution_generated),
        curve("real (test split)", &f.resolution_real),
    ];
    plots::lines(
        &out.join("resolution.svg"),
        "Classifier accuracy against resolution",
        "side (pixels)",
        "accuracy",
        &lines,
    )?;
    if let Some(log) = log_path(args) {
        write_training_curves(&log, out)?;
    }
    Ok(())
}

/// Losses and accuracies from a training log, averaged over windows of 20 steps.
fn write_training_curves(log: &Path, out: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
    let stats: Vec<acgan::StepStats> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<std::result::Result<_, _>>()
        .with_context(|| format!("{} is not a log of StepStats", log.display()))?;
    let smooth = |name: &str, get: fn(&acgan::StepStats) -> f32| plots::Line {
        name: name.into(),
        points: stats
            .chunks(20)
            .map(|w| {
                let step = w[w.len() - 1].step as f64;
                (
                    step,
                    w.iter().map(|s| get(s) as f64).sum::<f64>() / w.len() as f64,
                )
            })
            .collect(),
    };
    let losses = [
        smooth("D loss", |s| s.d_loss),
        smooth("G loss", |s| s.g_loss),
    ];
    plots::lines(
        &out.join("losses.svg"),
        "Training losses",
        "step",
        "loss",
        &losses,
    )?;
    let accuracies = [
        smooth("D: real called real", |s| s.d_accuracy_real),
        smooth("D: fake called fake", |s| s.d_accuracy_fake),
        smooth("class head on real", |s| s.class_accuracy_real),
        smooth("class head on fake", |s| s.class_accuracy_fake),
    ];
    plots::lines(
        &out.join("accuracies.svg"),
        "Training accuracies",
        "step",
        "share",
        &accuracies,
    )
}

fn print_summary(f: &Figures, page: &Path) {
    println!(
        "accuracy on generated samples: {:.4} (real test split: {:.4})",
        f.generated_accuracy.overall, f.real_accuracy.overall
    );
    println!(
        "diversity: {:.1}% of generated classes below the least diverse real class ({:.4})",
        100.0 * f.diversity.share_of_generated_below,
        f.diversity.least_diverse_real
    );
    println!(
        "inception score: generated {:.3} +- {:.3}, real {:.3} +- {:.3}",
        f.inception_score_generated.mean,
        f.inception_score_generated.std,
        f.inception_score_real.mean,
        f.inception_score_real.std
    );
    println!(
        "frechet distance (classifier features): {:.4}",
        f.frechet_distance
    );
    println!("report: {} ({:.1} s)", page.display(), f.seconds);
}
