//! The discriminator with an auxiliary classifier: one image in, two heads of logits out.

use std::sync::Mutex;

use candle_core::{Module, ModuleT, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use crate::layers::{self, BatchNormSettings, Conv2d};
use crate::rng::{self, Rng, RngState};
use crate::{check, Error, Result};

/// One convolution of the discriminator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvLayer {
    /// Output channels.
    pub out_channels: usize,
    /// Stride (1 keeps the side, 2 halves it, rounding up).
    pub stride: usize,
}

/// The shape of an [`AuxDiscriminator`].
///
/// Each layer is a square convolution (padding `kernel_size / 2`), then batch norm (every
/// layer but the first), leaky ReLU and dropout. The flattened features feed two linear heads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiscriminatorConfig {
    /// Number of classes of the auxiliary classifier.
    pub num_classes: usize,
    /// Channels of the input images.
    pub image_channels: usize,
    /// Side of the (square) input images.
    pub image_size: usize,
    /// The convolutions, in order.
    pub layers: Vec<ConvLayer>,
    /// Side of the square kernels.
    pub kernel_size: usize,
    /// Slope of the leaky ReLU for negative inputs.
    pub leaky_relu_slope: f64,
    /// Probability of zeroing an activation in training mode.
    pub dropout: f32,
    /// Settings of every batch-norm layer.
    pub batch_norm: BatchNormSettings,
}

impl Default for DiscriminatorConfig {
    /// The [`DiscriminatorConfig::mnist`] preset.
    fn default() -> Self {
        Self::mnist()
    }
}

fn paper_layers() -> Vec<ConvLayer> {
    [(16, 2), (32, 1), (64, 2), (128, 1), (256, 2), (512, 1)]
        .into_iter()
        .map(|(out_channels, stride)| ConvLayer {
            out_channels,
            stride,
        })
        .collect()
}

impl DiscriminatorConfig {
    /// 28x28 grey digits, the match of [`crate::GeneratorConfig::mnist`]: 3x3 convolutions to
    /// 32, 64 and 128 channels, each of stride 2 (28 -> 14 -> 7 -> 4), leaky ReLU 0.2 and
    /// dropout 0.25. Narrower and shallower than the paper's so that it trains in minutes on a
    /// small CPU.
    pub fn mnist() -> Self {
        let layers = [32, 64, 128]
            .into_iter()
            .map(|out_channels| ConvLayer {
                out_channels,
                stride: 2,
            })
            .collect();
        Self {
            num_classes: 10,
            image_channels: 1,
            image_size: 28,
            layers,
            kernel_size: 3,
            leaky_relu_slope: 0.2,
            dropout: 0.25,
            batch_norm: BatchNormSettings::default(),
        }
    }

    /// 32x32 colour images, the paper's discriminator (appendix, table 1): 3x3 convolutions to
    /// 16, 32, 64, 128, 256 and 512 channels with strides 2, 1, 2, 1, 2, 1, leaky ReLU 0.2,
    /// dropout 0.5, batch norm after the first layer.
    pub fn cifar10() -> Self {
        Self {
            num_classes: 10,
            image_channels: 3,
            image_size: 32,
            layers: paper_layers(),
            kernel_size: 3,
            leaky_relu_slope: 0.2,
            dropout: 0.5,
            batch_norm: BatchNormSettings::default(),
        }
    }

    /// 128x128 colour images for a model owning 10 ImageNet classes: the paper's discriminator
    /// layers on the larger input (16x16x512 features before the heads).
    pub fn imagenet128() -> Self {
        Self {
            image_size: 128,
            ..Self::cifar10()
        }
    }

    /// Side of the feature maps after the last convolution.
    pub fn feature_size(&self) -> usize {
        self.layers.iter().fold(self.image_size, |side, layer| {
            Conv2d::output_size(self.kernel_size, layer.stride, side)
        })
    }

    /// Checks every field; called by [`AuxDiscriminator::new`].
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(Error::config("DiscriminatorConfig", m));
        if self.num_classes == 0 || self.image_channels == 0 || self.image_size == 0 {
            return fail("num_classes, image_channels and image_size must be positive".into());
        }
        if let Err(message) = check_conv_stack(&self.layers, self.kernel_size, self.image_size) {
            return fail(message);
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return fail(format!("dropout must be in [0, 1), found {}", self.dropout));
        }
        self.batch_norm.validate("DiscriminatorConfig")
    }
}

/// Checks a stack of square convolutions: at least one layer, positive widths and strides, and
/// a kernel no larger than the image. Shared by the discriminator and the judging classifier.
pub(crate) fn check_conv_stack(
    layers: &[ConvLayer],
    kernel_size: usize,
    image_size: usize,
) -> std::result::Result<(), String> {
    if layers.is_empty() {
        return Err("layers must not be empty".into());
    }
    if let Some(bad) = layers.iter().find(|l| l.out_channels == 0 || l.stride == 0) {
        return Err(format!(
            "every layer needs positive out_channels and stride: {bad:?}"
        ));
    }
    if kernel_size == 0 || kernel_size > image_size {
        return Err(format!(
            "kernel_size must be in 1..={image_size}, found {kernel_size}"
        ));
    }
    Ok(())
}

/// The two heads of [`AuxDiscriminator::forward_t`], as logits (no sigmoid, no softmax).
#[derive(Clone, Debug)]
pub struct DiscriminatorOutput {
    /// Logit of P(source = real | x), `(batch,)`.
    pub source: Tensor,
    /// Logits of P(class | x), `(batch, num_classes)`.
    pub class: Tensor,
}

/// The AC-GAN discriminator `D(x) = (P(S | x), P(C | x))`, returning logits.
///
/// Dropout draws its masks from a generator owned by the discriminator (seed 0 unless
/// [`AuxDiscriminator::reseed_dropout`] is called), so seeded training is reproducible; its
/// position is part of a checkpoint. Variables are named `conv{i}`, `bn{i}` (from layer 1),
/// `source` and `class`.
#[derive(Debug)]
pub struct AuxDiscriminator {
    config: DiscriminatorConfig,
    convs: Vec<Conv2d>,
    bns: Vec<candle_nn::BatchNorm>,
    source: candle_nn::Linear,
    class: candle_nn::Linear,
    dropout_rng: Mutex<Rng>,
}

impl AuxDiscriminator {
    /// Builds the network described by `config`, creating or reading its variables in `vb`.
    pub fn new(config: &DiscriminatorConfig, vb: VarBuilder) -> Result<Self> {
        config.validate()?;
        let c = config;
        let mut convs = Vec::with_capacity(c.layers.len());
        let mut bns = Vec::with_capacity(c.layers.len());
        let mut in_channels = c.image_channels;
        for (i, layer) in c.layers.iter().enumerate() {
            let vbi = vb.pp(format!("conv{i}"));
            convs.push(Conv2d::new(
                in_channels,
                layer.out_channels,
                c.kernel_size,
                layer.stride,
                vbi,
            )?);
            if i > 0 {
                bns.push(
                    c.batch_norm
                        .build(layer.out_channels, vb.pp(format!("bn{i}")))?,
                );
            }
            in_channels = layer.out_channels;
        }
        let features = in_channels * c.feature_size() * c.feature_size();
        Ok(Self {
            config: config.clone(),
            convs,
            bns,
            source: layers::linear(features, 1, vb.pp("source"))?,
            class: layers::linear(features, c.num_classes, vb.pp("class"))?,
            dropout_rng: Mutex::new(rng::seeded(0)),
        })
    }

    /// The configuration this discriminator was built from.
    pub fn config(&self) -> &DiscriminatorConfig {
        &self.config
    }

    /// Classifies images as real or generated and by class.
    ///
    /// `train = true` applies dropout and normalises with batch statistics (updating the
    /// running ones); `train = false` does neither and changes nothing.
    ///
    /// # Shapes
    /// - `images`: `(batch, image_channels, image_size, image_size)` f32
    /// - returns `source` `(batch,)` and `class` `(batch, num_classes)`, both logits
    pub fn forward_t(&self, images: &Tensor, train: bool) -> Result<DiscriminatorOutput> {
        let c = &self.config;
        let batch = check::images(
            "AuxDiscriminator images",
            images,
            c.image_channels,
            c.image_size,
        )?;
        let mut x = images.clone();
        for (i, conv) in self.convs.iter().enumerate() {
            x = conv.forward(&x)?;
            if i > 0 {
                x = self.bns[i - 1].forward_t(&x, train)?;
            }
            x = candle_nn::ops::leaky_relu(&x, c.leaky_relu_slope)?;
            if train {
                x = self.apply_dropout(&x)?;
            }
        }
        let features = x.reshape((batch, ()))?;
        Ok(DiscriminatorOutput {
            source: self.source.forward(&features)?.squeeze(1)?,
            class: self.class.forward(&features)?,
        })
    }

    fn apply_dropout(&self, x: &Tensor) -> Result<Tensor> {
        let mut rng = self
            .dropout_rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        layers::dropout(x, self.config.dropout, &mut rng)
    }

    /// Restarts the dropout masks from `seed`.
    pub fn reseed_dropout(&self, seed: u64) {
        self.set_dropout_rng(rng::seeded(seed));
    }

    /// The position of the dropout generator, for checkpoints.
    pub fn dropout_rng_state(&self) -> RngState {
        let rng = self
            .dropout_rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        RngState::of(&rng)
    }

    pub(crate) fn set_dropout_rng(&self, new: Rng) {
        *self
            .dropout_rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = new;
    }
}
