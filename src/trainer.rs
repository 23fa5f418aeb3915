//! The training loop's single step: one discriminator update, then one generator update.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::discriminator::{AuxDiscriminator, DiscriminatorConfig, DiscriminatorOutput};
use crate::generator::{Generator, GeneratorConfig};
use crate::init::SeededInit;
use crate::loss::{AcGanLoss, DiscriminatorLoss, GeneratorLoss};
use crate::optim::{Adam, AdamConfig};
use crate::rng::{self, Rng};
use crate::{check, checkpoint, Error, Result};

/// Everything about training that is not the networks' shape.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainerConfig {
    /// Seeds the weights, the noise, the fake labels and the dropout masks.
    pub seed: u64,
    /// The generator's optimizer.
    pub generator_adam: AdamConfig,
    /// The discriminator's optimizer.
    pub discriminator_adam: AdamConfig,
    /// The loss options.
    pub loss: AcGanLoss,
}

impl Default for TrainerConfig {
    /// Seed 0 and the paper's settings: Adam 2e-4 / 0.5 / 0.999 for both networks, the
    /// default [`AcGanLoss`].
    fn default() -> Self {
        Self {
            seed: 0,
            generator_adam: AdamConfig::default(),
            discriminator_adam: AdamConfig::default(),
            loss: AcGanLoss::default(),
        }
    }
}

/// A batch of generated images with the noise and labels they came from. `images` is still
/// attached to the generator's graph, so the generator step can back-propagate through it.
#[derive(Clone, Debug)]
pub struct FakeBatch {
    /// `(batch, latent_dim)` f32.
    pub noise: Tensor,
    /// `(batch,)` u32, drawn uniformly over the classes.
    pub labels: Tensor,
    /// `(batch, channels, size, size)` f32 in [-1, 1], generated in training mode.
    pub images: Tensor,
}

/// What one [`Trainer::step`] measured. Losses are the minimised forms of [`crate::loss`];
/// accuracies are fractions in [0, 1] measured on the discriminator step's outputs, before its
/// update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// The step's number, counting from 1.
    pub step: u64,
    /// D's total loss.
    pub d_loss: f32,
    /// D's source loss on real images.
    pub d_source_real: f32,
    /// D's source loss on generated images.
    pub d_source_fake: f32,
    /// D's class loss on real images.
    pub d_class_real: f32,
    /// D's class loss on generated images.
    pub d_class_fake: f32,
    /// G's total loss.
    pub g_loss: f32,
    /// G's source part.
    pub g_source: f32,
    /// G's class part.
    pub g_class: f32,
    /// Share of real images D calls real (source logit > 0).
    pub d_accuracy_real: f32,
    /// Share of generated images D calls generated (source logit < 0).
    pub d_accuracy_fake: f32,
    /// Share of real images whose class D predicts correctly.
    pub class_accuracy_real: f32,
    /// Share of generated images D assigns to the class they were generated for.
    pub class_accuracy_fake: f32,
}

/// Owns a generator and a discriminator, each with its own [`VarMap`] and [`Adam`], and the
/// seeded generator that draws noise and fake labels.
///
/// A step is [`Trainer::sample_fakes`], [`Trainer::discriminator_step`] (fakes detached, only
/// D changes) and [`Trainer::generator_step`] (only G changes) on the same fakes; each part is
/// public so other schedules can be built from them.
pub struct Trainer {
    pub(crate) config: TrainerConfig,
    pub(crate) device: Device,
    pub(crate) generator: Generator,
    pub(crate) generator_vars: VarMap,
    pub(crate) generator_adam: Adam,
    pub(crate) discriminator: AuxDiscriminator,
    pub(crate) discriminator_vars: VarMap,
    pub(crate) discriminator_adam: Adam,
    pub(crate) rng: Rng,
    pub(crate) step: u64,
}

impl Trainer {
    /// Builds both networks with seeded weights on `device`.
    ///
    /// The two configurations must agree on the number of classes, the image channels and the
    /// image side.
    pub fn new(
        generator: &GeneratorConfig,
        discriminator: &DiscriminatorConfig,
        config: TrainerConfig,
        device: &Device,
    ) -> Result<Self> {
        check_pair(generator, discriminator)?;
        config.loss.validate()?;
        let generator_vars = VarMap::new();
        let g_vb = SeededInit::var_builder(&generator_vars, config.seed, device);
        let g = Generator::new(generator, g_vb)?;
        let discriminator_vars = VarMap::new();
        let d_seed = config.seed.wrapping_add(1);
        let d_vb = SeededInit::var_builder(&discriminator_vars, d_seed, device);
        let d = AuxDiscriminator::new(discriminator, d_vb)?;
        d.reseed_dropout(config.seed.wrapping_add(2));
        Ok(Self {
            generator_adam: Adam::new(&generator_vars, config.generator_adam)?,
            discriminator_adam: Adam::new(&discriminator_vars, config.discriminator_adam)?,
            config,
            device: device.clone(),
            generator: g,
            generator_vars,
            discriminator: d,
            discriminator_vars,
            rng: rng::seeded(config.seed.wrapping_add(3)),
            step: 0,
        })
    }

    /// The training configuration.
    pub fn config(&self) -> &TrainerConfig {
        &self.config
    }

    /// The device both networks live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The generator.
    pub fn generator(&self) -> &Generator {
        &self.generator
    }

    /// The discriminator.
    pub fn discriminator(&self) -> &AuxDiscriminator {
        &self.discriminator
    }

    /// The generator's variables (weights and batch-norm running statistics).
    pub fn generator_vars(&self) -> &VarMap {
        &self.generator_vars
    }

    /// The discriminator's variables.
    pub fn discriminator_vars(&self) -> &VarMap {
        &self.discriminator_vars
    }

    /// Number of completed [`Trainer::step`]s.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Draws `batch` uniform labels and normal noise and generates images in training mode.
    pub fn sample_fakes(&mut self, batch: usize) -> Result<FakeBatch> {
        let classes = self.generator.config().num_classes as u32;
        let labels: Vec<u32> = (0..batch)
            .map(|_| self.rng.random_range(0..classes))
            .collect();
        let labels = Tensor::from_vec(labels, batch, &self.device)?;
        let noise = self
            .generator
            .sample_noise(batch, &mut self.rng, &self.device)?;
        let images = self.generator.forward_t(&noise, &labels, true)?;
        Ok(FakeBatch {
            noise,
            labels,
            images,
        })
    }

    /// One Adam update of D on a real batch and `fakes` (detached: G is not changed).
    /// Returns D's loss and its outputs on both batches, from before the update.
    ///
    /// # Shapes
    /// - `real_images`: `(batch, channels, size, size)` f32 in [-1, 1]
    /// - `real_labels`: `(batch,)` u32
    pub fn discriminator_step(
        &mut self,
        real_images: &Tensor,
        real_labels: &Tensor,
        fakes: &FakeBatch,
    ) -> Result<(DiscriminatorLoss, DiscriminatorOutput, DiscriminatorOutput)> {
        let d_config = self.discriminator.config();
        let size = d_config.image_size;
        let batch = check::images(
            "Trainer real images",
            real_images,
            d_config.image_channels,
            size,
        )?;
        check::labels(
            "Trainer real labels",
            real_labels,
            batch,
            d_config.num_classes,
        )?;
        let real = self.discriminator.forward_t(real_images, true)?;
        let fake = self.discriminator.forward_t(&fakes.images.detach(), true)?;
        let loss = self
            .config
            .loss
            .discriminator(&real, real_labels, &fake, &fakes.labels)?;
        let grads = loss.total.backward()?;
        self.discriminator_adam.step(&grads)?;
        Ok((loss, real, fake))
    }

    /// One Adam update of G through D's judgement of `fakes` (D is not changed).
    pub fn generator_step(&mut self, fakes: &FakeBatch) -> Result<GeneratorLoss> {
        let judged = self.discriminator.forward_t(&fakes.images, true)?;
        let loss = self.config.loss.generator(&judged, &fakes.labels)?;
        let grads = loss.total.backward()?;
        self.generator_adam.step(&grads)?;
        Ok(loss)
    }

    /// One training step on a real batch: a D update, then a G update on the same fakes.
    ///
    /// # Shapes
    /// - `real_images`: `(batch, channels, size, size)` f32 in [-1, 1]
    /// - `real_labels`: `(batch,)` u32
    pub fn step(&mut self, real_images: &Tensor, real_labels: &Tensor) -> Result<StepStats> {
        let batch = real_images.dims().first().copied().unwrap_or(0);
        let fakes = self.sample_fakes(batch)?;
        let (d_loss, real, fake) = self.discriminator_step(real_images, real_labels, &fakes)?;
        let g_loss = self.generator_step(&fakes)?;
        self.step += 1;
        self.collect_stats(&d_loss, &g_loss, &real, real_labels, &fake, &fakes.labels)
    }

    fn collect_stats(
        &self,
        d: &DiscriminatorLoss,
        g: &GeneratorLoss,
        real: &DiscriminatorOutput,
        real_labels: &Tensor,
        fake: &DiscriminatorOutput,
        fake_labels: &Tensor,
    ) -> Result<StepStats> {
        let zero = real.source.zeros_like()?;
        let fake_zero = fake.source.zeros_like()?;
        let share = |mask: Tensor| -> Result<Tensor> { Ok(mask.to_dtype(DType::F32)?.mean_all()?) };
        let values = Tensor::stack(
            &[
                d.total.clone(),
                d.source_real.clone(),
                d.source_fake.clone(),
                d.class_real.clone(),
                d.class_fake.clone(),
                g.total.clone(),
                g.source.clone(),
                g.class.clone(),
                share(real.source.gt(&zero)?)?,
                share(fake.source.lt(&fake_zero)?)?,
                share(real.class.argmax(1)?.eq(real_labels)?)?,
                share(fake.class.argmax(1)?.eq(fake_labels)?)?,
            ],
            0,
        )?
        .to_dtype(DType::F32)?
        .to_vec1::<f32>()?;
        Ok(StepStats {
            step: self.step,
            d_loss: values[0],
            d_source_real: values[1],
            d_source_fake: values[2],
            d_class_real: values[3],
            d_class_fake: values[4],
            g_loss: values[5],
            g_source: values[6],
            g_class: values[7],
            d_accuracy_real: values[8],
            d_accuracy_fake: values[9],
            class_accuracy_real: values[10],
            class_accuracy_fake: values[11],
        })
    }

    /// Generates one image per label from fresh noise, in inference mode (batch norm uses and
    /// keeps its running statistics; no dropout is involved).
    ///
    /// # Shapes
    /// - `labels`: `(batch,)` u32; returns `(batch, channels, size, size)` in [-1, 1]
    pub fn generate(&mut self, labels: &Tensor) -> Result<Tensor> {
        let batch = labels.dims().first().copied().unwrap_or(0);
        let noise = self
            .generator
            .sample_noise(batch, &mut self.rng, &self.device)?;
        self.generate_with_noise(&noise, labels)
    }

    /// Generates one image per (noise, label) pair in inference mode.
    ///
    /// # Shapes
    /// - `noise`: `(batch, latent_dim)` f32; `labels`: `(batch,)` u32
    /// - returns `(batch, channels, size, size)` in [-1, 1]
    pub fn generate_with_noise(&self, noise: &Tensor, labels: &Tensor) -> Result<Tensor> {
        Ok(self.generator.forward_t(noise, labels, false)?.detach())
    }

    /// Writes everything needed to resume to `path` (see [`crate::checkpoint`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        checkpoint::save(self, path.as_ref())
    }

    /// Builds a trainer from a checkpoint, with the configurations stored in it.
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        checkpoint::load(path.as_ref(), device)
    }

    /// Restores a checkpoint into this trainer. The file's configurations must equal this
    /// trainer's; otherwise the error names the first field that differs.
    pub fn resume(&mut self, path: impl AsRef<Path>) -> Result<()> {
        checkpoint::restore(self, path.as_ref())
    }
}

fn check_pair(g: &GeneratorConfig, d: &DiscriminatorConfig) -> Result<()> {
    let pairs = [
        ("num_classes", g.num_classes, d.num_classes),
        ("image channels", g.image_channels(), d.image_channels),
        ("image size", g.image_size(), d.image_size),
    ];
    for (what, in_g, in_d) in pairs {
        if in_g != in_d {
            return Err(Error::config(
                "Trainer",
                format!("generator and discriminator disagree on {what}: {in_g} vs {in_d}"),
            ));
        }
    }
    Ok(())
}
