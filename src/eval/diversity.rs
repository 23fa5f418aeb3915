//! Diversity per class, the paper's protocol (section 4.2, figures 3 and 4): the mean MS-SSIM
//! over random pairs of distinct samples of one class, for generated and for real images.
//!
//! Lower is more diverse. The paper compares each generated class with the least diverse real
//! class (the highest real score): 84.7 % of its ImageNet classes score below it. A generated
//! class whose score rises above every real class's has collapsed toward a few images, which
//! [`DiversityTracker`] watches for during training.
//!
//! - [`class_diversity`]: the score of every class of a labelled batch;
//! - [`compare`]: generated against real scores, as a [`DiversityReport`];
//! - [`DiversityTracker`]: every `K` steps, scores fixed-noise samples of each class and flags
//!   the classes above the real maximum in a [`DiversityCheck`].
//!
//! The pair measure is a [`PairSimilarity`]; the default is [`MsSsim`], and any closure
//! `Fn(&Tensor, &Tensor) -> Result<Vec<f64>>` can stand in for it.

use std::collections::HashSet;

use candle_core::{Device, Tensor};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::eval::ssim::{ms_ssim_from_generator_range, SsimConfig};
use crate::rng::{self, Rng};
use crate::{check, Error, Generator, Result};

/// The first random stream [`DiversityTracker`] draws noise from; pairs use streams
/// `0..num_classes`, noise for class `c` uses `NOISE_STREAM + c`.
const NOISE_STREAM: u64 = 1 << 32;

/// A similarity between the images of each pair `(a[i], b[i])`, higher meaning more alike.
pub trait PairSimilarity {
    /// One value per pair.
    ///
    /// # Shapes
    /// - `a`, `b`: `(pairs, channels, height, width)` in [-1, 1]; returns `pairs` values
    fn similarities(&self, a: &Tensor, b: &Tensor) -> Result<Vec<f64>>;
}

impl<F> PairSimilarity for F
where
    F: Fn(&Tensor, &Tensor) -> Result<Vec<f64>>,
{
    fn similarities(&self, a: &Tensor, b: &Tensor) -> Result<Vec<f64>> {
        self(a, b)
    }
}

/// The paper's measure: MS-SSIM of images in [-1, 1], through [`ms_ssim_from_generator_range`]
/// with these settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MsSsim(pub SsimConfig);

impl PairSimilarity for MsSsim {
    fn similarities(&self, a: &Tensor, b: &Tensor) -> Result<Vec<f64>> {
        ms_ssim_from_generator_range(a, b, &self.0)
    }
}

/// How many pairs each class's score averages over, how they are drawn, and the MS-SSIM
/// settings of [`class_diversity`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiversityConfig {
    /// Pairs of distinct samples per class. The paper uses 100. A class with fewer distinct
    /// pairs than this uses all of them.
    pub pairs_per_class: usize,
    /// Seeds the choice of pairs: class `c` draws from stream `c` of [`rng::seeded`]`(seed)`,
    /// so a class's pairs do not depend on the other classes.
    pub seed: u64,
    /// The MS-SSIM settings of [`class_diversity`] (the `_with` variants ignore them).
    pub ssim: SsimConfig,
}

impl Default for DiversityConfig {
    /// 100 pairs per class as in the paper, seed 0, the default [`SsimConfig`].
    fn default() -> Self {
        Self {
            pairs_per_class: 100,
            seed: 0,
            ssim: SsimConfig::default(),
        }
    }
}

impl DiversityConfig {
    /// Checks `pairs_per_class` is positive.
    pub fn check(&self) -> Result<()> {
        if self.pairs_per_class == 0 {
            return Err(Error::config(
                "DiversityConfig",
                "pairs_per_class must be positive",
            ));
        }
        Ok(())
    }
}

/// The mean MS-SSIM between pairs of distinct samples of each class, or `None` for a class
/// with fewer than two samples. See [`class_diversity_with`] for how pairs are chosen.
///
/// # Shapes
/// - `images`: `(batch, channels, height, width)` float in [-1, 1]
/// - `labels`: `(batch,)` u32, each below `num_classes`
/// - returns `num_classes` scores
pub fn class_diversity(
    images: &Tensor,
    labels: &Tensor,
    num_classes: usize,
    config: &DiversityConfig,
) -> Result<Vec<Option<f64>>> {
    let similarity = MsSsim(config.ssim.clone());
    class_diversity_with(images, labels, num_classes, config, &similarity)
}

/// The mean `similarity` between pairs of distinct samples of each class, or `None` for a
/// class with fewer than two samples.
///
/// A class with `s` samples has `s (s - 1) / 2` unordered pairs. When that is at most
/// `config.pairs_per_class` every pair is used; otherwise that many distinct pairs are drawn
/// uniformly without replacement. Each class's pairs go to `similarity` in one call.
///
/// # Shapes
/// - `images`: `(batch, channels, height, width)` float
/// - `labels`: `(batch,)` u32, each below `num_classes`
/// - returns `num_classes` scores
pub fn class_diversity_with<S: PairSimilarity + ?Sized>(
    images: &Tensor,
    labels: &Tensor,
    num_classes: usize,
    config: &DiversityConfig,
    similarity: &S,
) -> Result<Vec<Option<f64>>> {
    config.check()?;
    let batch = image_batch("class_diversity images", images)?;
    check::labels("class_diversity labels", labels, batch, num_classes)?;
    let mut members = vec![Vec::new(); num_classes];
    for (i, label) in labels.to_vec1::<u32>()?.into_iter().enumerate() {
        members[label as usize].push(i as u32);
    }
    let scorer = Scorer { config, similarity };
    (0..num_classes)
        .map(|c| scorer.score(images, &members[c], c))
        .collect()
}

/// Scores one class from its members' images.
struct Scorer<'a, S: ?Sized> {
    config: &'a DiversityConfig,
    similarity: &'a S,
}

impl<S: PairSimilarity + ?Sized> Scorer<'_, S> {
    /// The mean similarity over pairs of `members` (indices into `images`) of class `class`.
    fn score(&self, images: &Tensor, members: &[u32], class: usize) -> Result<Option<f64>> {
        if members.len() < 2 {
            return Ok(None);
        }
        let mut rng = rng::seeded(self.config.seed);
        rng.set_stream(class as u64);
        let pairs = draw_pairs(members.len(), self.config.pairs_per_class, &mut rng);
        let pick = |side: fn(&(usize, usize)) -> usize| -> Result<Tensor> {
            let indices: Vec<u32> = pairs.iter().map(|p| members[side(p)]).collect();
            Ok(images.index_select(&Tensor::new(indices, images.device())?, 0)?)
        };
        let values = self
            .similarity
            .similarities(&pick(|p| p.0)?, &pick(|p| p.1)?)?;
        if values.len() != pairs.len() {
            let message = format!("returned {} values for {} pairs", values.len(), pairs.len());
            return Err(Error::config("PairSimilarity", message));
        }
        Ok(Some(values.iter().sum::<f64>() / values.len() as f64))
    }
}

/// Unordered pairs `(i, j)`, `i < j < count`: all of them if there are at most `wanted`,
/// otherwise `wanted` distinct ones drawn uniformly from `rng`, in the order drawn.
fn draw_pairs(count: usize, wanted: usize, rng: &mut Rng) -> Vec<(usize, usize)> {
    let total = count.saturating_mul(count.saturating_sub(1)) / 2;
    if total <= wanted {
        return (0..count)
            .flat_map(|i| (i + 1..count).map(move |j| (i, j)))
            .collect();
    }
    let mut seen = HashSet::with_capacity(wanted);
    let mut pairs = Vec::with_capacity(wanted);
    while pairs.len() < wanted {
        let i = rng.random_range(0..count as u64) as usize;
        let j = rng.random_range(0..count as u64 - 1) as usize;
        let j = if j >= i { j + 1 } else { j };
        let pair = (i.min(j), i.max(j));
        if seen.insert(pair) {
            pairs.push(pair);
        }
    }
    pairs
}

/// Generated against real diversity, the paper's summary (section 4.2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiversityReport {
    /// The generated images' score per class (`None`: fewer than two samples).
    pub generated: Vec<Option<f64>>,
    /// The real images' score per class.
    pub real: Vec<Option<f64>>,
    /// The highest real score: the score of the least diverse real class.
    pub least_diverse_real: f64,
    /// The class that has it.
    pub least_diverse_real_class: usize,
    /// Of the generated classes that have a score, the share (in [0, 1]) scoring strictly
    /// below [`DiversityReport::least_diverse_real`]: more diverse than the least diverse real
    /// class. The paper reports 0.847 for ImageNet.
    pub share_of_generated_below: f64,
}

impl DiversityReport {
    /// The classes whose generated score is strictly above every real class's: less diverse
    /// than any real class, the sign of a collapse.
    pub fn above_real_maximum(&self) -> Vec<usize> {
        let threshold = self.least_diverse_real;
        let above = |(c, s): (usize, &Option<f64>)| s.filter(|&s| s > threshold).map(|_| c);
        self.generated
            .iter()
            .enumerate()
            .filter_map(above)
            .collect()
    }
}

/// Summarises per-class scores of generated and real images (from [`class_diversity`]).
///
/// Scores that are NaN count as missing. It is an error if the two lists differ in length, if
/// no real class has a score, or if no generated class has one.
pub fn compare(generated: &[Option<f64>], real: &[Option<f64>]) -> Result<DiversityReport> {
    let fail = |message: String| Err(Error::config("diversity::compare", message));
    if generated.len() != real.len() {
        let (g, r) = (generated.len(), real.len());
        return fail(format!("{g} generated classes but {r} real classes"));
    }
    let scored = |scores: &[Option<f64>]| -> Vec<(usize, f64)> {
        let valid = |(c, s): (usize, &Option<f64>)| s.filter(|s| !s.is_nan()).map(|s| (c, s));
        scores.iter().enumerate().filter_map(valid).collect()
    };
    let real_scored = scored(real);
    let Some(&(class, threshold)) = real_scored.iter().max_by(|a, b| a.1.total_cmp(&b.1)) else {
        return fail("no real class has two samples to compare".into());
    };
    let generated_scored = scored(generated);
    if generated_scored.is_empty() {
        return fail("no generated class has two samples to compare".into());
    }
    let below = generated_scored.iter().filter(|s| s.1 < threshold).count();
    Ok(DiversityReport {
        generated: generated.to_vec(),
        real: real.to_vec(),
        least_diverse_real: threshold,
        least_diverse_real_class: class,
        share_of_generated_below: below as f64 / generated_scored.len() as f64,
    })
}

/// When and how [`DiversityTracker`] measures the generator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackerConfig {
    /// Measure at every step that is a multiple of this (step 0 included).
    pub every: u64,
    /// Samples generated per class at each check; at least 2.
    pub samples_per_class: usize,
    /// Pairs per class, the seed of the pairs and of the noise, and the MS-SSIM settings.
    pub diversity: DiversityConfig,
}

impl Default for TrackerConfig {
    /// Every 1000 steps, 100 samples per class, the default [`DiversityConfig`].
    fn default() -> Self {
        Self {
            every: 1000,
            samples_per_class: 100,
            diversity: DiversityConfig::default(),
        }
    }
}

impl TrackerConfig {
    /// Checks `every` is positive, `samples_per_class` at least 2, and the diversity config.
    pub fn check(&self) -> Result<()> {
        if self.every == 0 || self.samples_per_class < 2 {
            let message = format!(
                "every must be positive and samples_per_class at least 2, found {} and {}",
                self.every, self.samples_per_class
            );
            return Err(Error::config("TrackerConfig", message));
        }
        self.diversity.check()
    }
}

/// What one [`DiversityTracker`] check found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiversityCheck {
    /// The training step measured.
    pub step: u64,
    /// Generated against real scores at this step.
    pub report: DiversityReport,
    /// Classes whose generated score is above the real maximum now.
    pub collapsed: Vec<usize>,
    /// Of those, the ones that were not above it at the previous check: the events to report.
    pub newly_collapsed: Vec<usize>,
}

/// Watches per-class diversity during training and flags classes that collapse.
///
/// The real images' scores are computed once, at construction. Each check generates
/// [`TrackerConfig::samples_per_class`] images of every class in inference mode, from noise
/// that is the same at every check (so score changes come from the generator, not the draw),
/// one class at a time to bound memory, and scores them with the same pairs protocol.
///
/// ```no_run
/// # use acgan::eval::diversity::{DiversityTracker, TrackerConfig};
/// # fn run(trainer: &mut acgan::Trainer, images: &candle_core::Tensor,
/// #        labels: &candle_core::Tensor) -> acgan::Result<()> {
/// let config = TrackerConfig { every: 500, ..Default::default() };
/// let mut tracker = DiversityTracker::new(images, labels, 10, config)?;
/// for _ in 0..5000 {
///     trainer.step(images, labels)?;
///     if let Some(check) = tracker.observe(trainer.step_count(), trainer.generator())? {
///         for class in &check.newly_collapsed {
///             // Report it: class `class` collapsed by step `check.step`.
///             let _ = (class, check.step);
///         }
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub struct DiversityTracker<S = MsSsim> {
    config: TrackerConfig,
    similarity: S,
    real: Vec<Option<f64>>,
    device: Device,
    history: Vec<DiversityCheck>,
}

impl DiversityTracker<MsSsim> {
    /// A tracker measuring MS-SSIM, with the real scores of `real_images`. Checks generate on
    /// `real_images`' device, which must be the generator's.
    ///
    /// # Shapes
    /// - `real_images`: `(batch, channels, height, width)` float in [-1, 1]
    /// - `real_labels`: `(batch,)` u32, each below `num_classes`
    pub fn new(
        real_images: &Tensor,
        real_labels: &Tensor,
        num_classes: usize,
        config: TrackerConfig,
    ) -> Result<Self> {
        let similarity = MsSsim(config.diversity.ssim.clone());
        Self::with_similarity(real_images, real_labels, num_classes, config, similarity)
    }
}

impl<S: PairSimilarity> DiversityTracker<S> {
    /// A tracker measuring `similarity`, with the real scores of `real_images`, generating on
    /// their device.
    ///
    /// # Shapes
    /// - as [`DiversityTracker::new`]
    pub fn with_similarity(
        real_images: &Tensor,
        real_labels: &Tensor,
        num_classes: usize,
        config: TrackerConfig,
        similarity: S,
    ) -> Result<Self> {
        config.check()?;
        let real = class_diversity_with(
            real_images,
            real_labels,
            num_classes,
            &config.diversity,
            &similarity,
        )?;
        Self::from_real_scores(real, config, similarity, real_images.device())
    }

    /// A tracker with real scores computed elsewhere (one per class, as
    /// [`class_diversity_with`] returns them; at least one must be present), generating on
    /// `device`, the generator's.
    pub fn from_real_scores(
        real: Vec<Option<f64>>,
        config: TrackerConfig,
        similarity: S,
        device: &Device,
    ) -> Result<Self> {
        config.check()?;
        if !real.iter().flatten().any(|s| !s.is_nan()) {
            let message = "no real class has a score: every class needs two real images";
            return Err(Error::config("DiversityTracker", message));
        }
        Ok(Self {
            config,
            similarity,
            real,
            device: device.clone(),
            history: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// The real images' score per class.
    pub fn real_scores(&self) -> &[Option<f64>] {
        &self.real
    }

    /// Every check so far, oldest first.
    pub fn history(&self) -> &[DiversityCheck] {
        &self.history
    }

    /// Whether [`DiversityTracker::observe`] measures at `step`.
    pub fn due(&self, step: u64) -> bool {
        step.is_multiple_of(self.config.every)
    }

    /// Measures `generator` if `step` is a multiple of [`TrackerConfig::every`], and returns
    /// the check; otherwise does nothing and returns `None`.
    pub fn observe(&mut self, step: u64, generator: &Generator) -> Result<Option<DiversityCheck>> {
        if !self.due(step) {
            return Ok(None);
        }
        self.check(step, generator).map(Some)
    }

    /// Measures `generator` now, records the check in the history and returns it.
    pub fn check(&mut self, step: u64, generator: &Generator) -> Result<DiversityCheck> {
        let num_classes = generator.config().num_classes;
        if num_classes != self.real.len() {
            let message = format!(
                "the generator has {num_classes} classes, the real scores {}",
                self.real.len()
            );
            return Err(Error::config("DiversityTracker", message));
        }
        let generated = (0..num_classes)
            .map(|c| self.generated_score(generator, c))
            .collect::<Result<Vec<_>>>()?;
        let report = compare(&generated, &self.real)?;
        let collapsed = report.above_real_maximum();
        let newly_collapsed = self.not_collapsed_before(&collapsed);
        let check = DiversityCheck {
            step,
            report,
            collapsed,
            newly_collapsed,
        };
        self.history.push(check.clone());
        Ok(check)
    }

    /// The classes of `collapsed` that the previous check did not flag.
    fn not_collapsed_before(&self, collapsed: &[usize]) -> Vec<usize> {
        let before = self.history.last().map_or(&[][..], |c| &c.collapsed[..]);
        let new = |c: &&usize| !before.contains(c);
        collapsed.iter().filter(new).copied().collect()
    }

    /// Generates the fixed samples of `class` in inference mode and scores them.
    fn generated_score(&self, generator: &Generator, class: usize) -> Result<Option<f64>> {
        let samples = self.config.samples_per_class;
        let device = &self.device;
        let mut noise_rng = rng::seeded(self.config.diversity.seed);
        noise_rng.set_stream(NOISE_STREAM + class as u64);
        let noise = generator.sample_noise(samples, &mut noise_rng, device)?;
        let labels = Tensor::from_vec(vec![class as u32; samples], samples, device)?;
        let images = generator.forward_t(&noise, &labels, false)?.detach();
        let members: Vec<u32> = (0..samples as u32).collect();
        let scorer = Scorer {
            config: &self.config.diversity,
            similarity: &self.similarity,
        };
        scorer.score(&images, &members, class)
    }
}

/// Checks `x` is a float batch of images and returns its batch size.
fn image_batch(argument: &str, x: &Tensor) -> Result<usize> {
    match x.dims() {
        &[n, _, _, _] if x.dtype().is_float() => Ok(n),
        _ => Err(Error::Shape {
            argument: argument.to_string(),
            expected: "(batch, channels, height, width) float".into(),
            found: x.dims().to_vec(),
            dtype: x.dtype(),
        }),
    }
}
