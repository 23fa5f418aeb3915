//! The class-conditional generator: noise and a class label in, an image in [-1, 1] out.

use candle_core::{DType, Module, ModuleT, Tensor};
use candle_nn::{Embedding, Init, VarBuilder};
use serde::{Deserialize, Serialize};

use crate::layers::{self, BatchNormSettings, ConvTranspose2d};
use crate::{check, Error, Result};

/// How the class label enters the generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Conditioning {
    /// The one-hot label is concatenated to the noise, so the first layer sees
    /// `latent_dim + num_classes` inputs. This is the paper's choice (section 3 and appendix).
    OneHotConcat,
    /// A learned `(num_classes, latent_dim)` embedding of the label is multiplied elementwise
    /// with the noise, as in the Keras and PyTorch-GAN AC-GAN examples.
    EmbeddingProduct,
}

/// The shape of a [`Generator`].
///
/// A linear layer maps the conditioned noise to `initial_channels` maps of
/// `initial_size x initial_size`, then each entry of `channels` is one transposed convolution
/// of stride 2 that doubles the side. All but the last layer are followed by batch norm and
/// ReLU; the last has `channels.last()` outputs (the image's channels) and a tanh, so images
/// lie in [-1, 1] with side `initial_size * 2^channels.len()`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeneratorConfig {
    /// Length of the noise vector `z`.
    pub latent_dim: usize,
    /// Number of classes the generator is conditioned on.
    pub num_classes: usize,
    /// How labels are combined with the noise.
    pub conditioning: Conditioning,
    /// Side of the feature maps produced by the linear layer.
    pub initial_size: usize,
    /// Number of feature maps produced by the linear layer.
    pub initial_channels: usize,
    /// Output channels of each stride-2 transposed convolution; the last is the image's.
    pub channels: Vec<usize>,
    /// Side of the square transposed-convolution kernels (4 or 5 in practice).
    pub kernel_size: usize,
    /// Settings of every batch-norm layer.
    pub batch_norm: BatchNormSettings,
}

impl Default for GeneratorConfig {
    /// The [`GeneratorConfig::mnist`] preset.
    fn default() -> Self {
        Self::mnist()
    }
}

impl GeneratorConfig {
    /// 28x28 grey digits, sized for training on a small CPU: a DCGAN-style network
    /// (100-d noise plus one-hot label, linear to 96x7x7, transposed 4x4 convolutions to
    /// 48x14x14 and 1x28x28). It is narrower than the paper's networks so that the bundled
    /// example trains in minutes on two cores.
    pub fn mnist() -> Self {
        Self {
            latent_dim: 100,
            num_classes: 10,
            conditioning: Conditioning::OneHotConcat,
            initial_size: 7,
            initial_channels: 96,
            channels: vec![48, 1],
            kernel_size: 4,
            batch_norm: BatchNormSettings::default(),
        }
    }

    /// 32x32 colour images, the paper's CIFAR-10 generator (appendix, table 1): 110-d input
    /// (100 noise + 10 one-hot), linear to 384 maps of 4x4, then 5x5 stride-2 transposed
    /// convolutions to 192, 96 and 3 channels.
    pub fn cifar10() -> Self {
        Self {
            latent_dim: 100,
            num_classes: 10,
            conditioning: Conditioning::OneHotConcat,
            initial_size: 4,
            initial_channels: 384,
            channels: vec![192, 96, 3],
            kernel_size: 5,
            batch_norm: BatchNormSettings::default(),
        }
    }

    /// 128x128 colour images, the paper's ImageNet generator (appendix): 110-d input for a
    /// model owning 10 classes, linear to 768 maps, then 5x5 stride-2 transposed convolutions
    /// to 384, 256, 192 and 3 channels. The appendix does not give the side after the linear
    /// layer; 8x8 is the one that reaches 128 with four doublings.
    pub fn imagenet128() -> Self {
        Self {
            latent_dim: 100,
            num_classes: 10,
            conditioning: Conditioning::OneHotConcat,
            initial_size: 8,
            initial_channels: 768,
            channels: vec![384, 256, 192, 3],
            kernel_size: 5,
            batch_norm: BatchNormSettings::default(),
        }
    }

    /// Side of the generated images.
    pub fn image_size(&self) -> usize {
        self.initial_size << self.channels.len()
    }

    /// Channels of the generated images.
    pub fn image_channels(&self) -> usize {
        self.channels.last().copied().unwrap_or(0)
    }

    /// Checks every field; called by [`Generator::new`].
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(Error::config("GeneratorConfig", m));
        if self.latent_dim == 0 || self.num_classes == 0 {
            return fail("latent_dim and num_classes must be positive".into());
        }
        if self.initial_size == 0 || self.initial_channels == 0 {
            return fail("initial_size and initial_channels must be positive".into());
        }
        if self.channels.is_empty() || self.channels.contains(&0) {
            return fail(format!(
                "channels must be non-empty and positive, found {:?}",
                self.channels
            ));
        }
        if self.kernel_size < 2 {
            return fail(format!(
                "kernel_size must be at least 2, found {}",
                self.kernel_size
            ));
        }
        self.batch_norm.validate("GeneratorConfig")
    }
}

/// The AC-GAN generator `G(z, c)`.
///
/// Build it with a `VarBuilder` (usually over a [`candle_nn::VarMap`]); its variables are named
/// `embedding`, `project`, `project_bn`, `up{i}` and `up{i}_bn`, batch-norm running statistics
/// included, so saving the `VarMap` saves everything inference needs.
#[derive(Clone, Debug)]
pub struct Generator {
    config: GeneratorConfig,
    embedding: Option<Embedding>,
    project: candle_nn::Linear,
    project_bn: candle_nn::BatchNorm,
    ups: Vec<ConvTranspose2d>,
    up_bns: Vec<candle_nn::BatchNorm>,
}

impl Generator {
    /// Builds the network described by `config`, creating or reading its variables in `vb`.
    pub fn new(config: &GeneratorConfig, vb: VarBuilder) -> Result<Self> {
        config.validate()?;
        let c = config;
        let (input, embedding) = match c.conditioning {
            Conditioning::OneHotConcat => (c.latent_dim + c.num_classes, None),
            Conditioning::EmbeddingProduct => {
                let init = Init::Randn {
                    mean: 0.0,
                    stdev: 1.0,
                };
                let table = vb.get_with_hints((c.num_classes, c.latent_dim), "embedding", init)?;
                (c.latent_dim, Some(Embedding::new(table, c.latent_dim)))
            }
        };
        let projected = c.initial_channels * c.initial_size * c.initial_size;
        let project = layers::linear(input, projected, vb.pp("project"))?;
        let project_bn = c
            .batch_norm
            .build(c.initial_channels, vb.pp("project_bn"))?;
        let mut ups = Vec::with_capacity(c.channels.len());
        let mut up_bns = Vec::with_capacity(c.channels.len() - 1);
        let mut in_channels = c.initial_channels;
        for (i, &out) in c.channels.iter().enumerate() {
            ups.push(ConvTranspose2d::new(
                in_channels,
                out,
                c.kernel_size,
                vb.pp(format!("up{i}")),
            )?);
            if i + 1 < c.channels.len() {
                up_bns.push(c.batch_norm.build(out, vb.pp(format!("up{i}_bn")))?);
            }
            in_channels = out;
        }
        Ok(Self {
            config: config.clone(),
            embedding,
            project,
            project_bn,
            ups,
            up_bns,
        })
    }

    /// The configuration this generator was built from.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// Generates one image per (noise, label) pair.
    ///
    /// With `train = false` batch norm uses its running statistics and leaves them unchanged,
    /// so each image depends on its own noise and label alone; with `train = true` it
    /// normalises with the batch's statistics and updates the running ones.
    ///
    /// # Shapes
    /// - `noise`: `(batch, latent_dim)` f32
    /// - `labels`: `(batch,)` u32, each below `num_classes`
    /// - returns `(batch, channels, size, size)` f32 in [-1, 1]
    pub fn forward_t(&self, noise: &Tensor, labels: &Tensor, train: bool) -> Result<Tensor> {
        let c = &self.config;
        let batch = check::matrix("Generator noise", noise, c.latent_dim)?;
        check::labels("Generator labels", labels, batch, c.num_classes)?;
        let input = match &self.embedding {
            None => {
                let hot = layers::one_hot(labels, c.num_classes, noise.dtype())?;
                Tensor::cat(&[noise, &hot], 1)?
            }
            Some(embedding) => (noise * embedding.forward(labels)?)?,
        };
        let x = self.project.forward(&input)?;
        let x = x.reshape((batch, c.initial_channels, c.initial_size, c.initial_size))?;
        let mut x = self.project_bn.forward_t(&x, train)?.relu()?;
        for (i, up) in self.ups.iter().enumerate() {
            x = up.forward(&x)?;
            x = match self.up_bns.get(i) {
                Some(bn) => bn.forward_t(&x, train)?.relu()?,
                None => x.tanh()?,
            };
        }
        Ok(x)
    }

    /// Standard normal noise of shape `(batch, latent_dim)` drawn from `rng`, on `device`.
    pub fn sample_noise(
        &self,
        batch: usize,
        rng: &mut crate::rng::Rng,
        device: &candle_core::Device,
    ) -> Result<Tensor> {
        sample_normal(batch, self.config.latent_dim, rng, device)
    }
}

/// A `(rows, cols)` f32 tensor of standard normal draws from `rng`.
pub(crate) fn sample_normal(
    rows: usize,
    cols: usize,
    rng: &mut crate::rng::Rng,
    device: &candle_core::Device,
) -> Result<Tensor> {
    use rand_distr::{Distribution, StandardNormal};
    let values: Vec<f32> = (0..rows * cols)
        .map(|_| StandardNormal.sample(rng))
        .collect();
    Ok(Tensor::from_vec(values, (rows, cols), device)?.to_dtype(DType::F32)?)
}
