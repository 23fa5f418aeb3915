//! The AC-GAN objective, written as losses to minimise.
//!
//! With the discriminator's source head `s(x)` (logit of P(S = real | x)) and class head, the
//! paper's log-likelihoods are
//!
//! - `L_S = E[log P(S=real | x_real)] + E[log P(S=fake | x_fake)]`
//! - `L_C = E[log P(C=c | x_real)] + E[log P(C=c | x_fake)]`
//!
//! D maximises `L_S + L_C`, so it minimises
//! `BCE(s(x_real), 1) + BCE(s(x_fake), 0) + CE(real) + CE(fake)`.
//! G maximises `L_C - L_S`; its part of `-L_S` is `log P(S=fake | x_fake)`, which saturates
//! when D is confident. By default G minimises the non-saturating
//! `BCE(s(x_fake), 1) + CE(fake)` instead (Goodfellow et al. 2014, section 3), which has the
//! same fixed point and strong gradients early on; [`AcGanLoss::saturating_generator`] selects
//! the literal objective.

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use crate::discriminator::DiscriminatorOutput;
use crate::{check, Error, Result};

/// Options of the AC-GAN loss. `Default` is the paper's choice.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AcGanLoss {
    /// Whether D's class loss also includes the generated images (the paper: yes). The Keras
    /// example and StudioGAN turn this off because D otherwise overpowers G on some data.
    pub aux_on_fake: bool,
    /// One-sided label smoothing: D's target for real images is `1 - real_label_smoothing`
    /// (Salimans et al. 2016 use 0.1). 0 turns it off, the paper's setting.
    pub real_label_smoothing: f64,
    /// G minimises the literal `log P(S=fake | x_fake)` rather than the non-saturating
    /// `-log P(S=real | x_fake)`.
    pub saturating_generator: bool,
}

impl Default for AcGanLoss {
    fn default() -> Self {
        Self {
            aux_on_fake: true,
            real_label_smoothing: 0.0,
            saturating_generator: false,
        }
    }
}

/// The discriminator's loss and its parts, each a scalar f32 tensor on the device.
#[derive(Clone, Debug)]
pub struct DiscriminatorLoss {
    /// The quantity to minimise: the sum of the parts below (`class_fake` only when
    /// `aux_on_fake`).
    pub total: Tensor,
    /// Mean `BCE(s(x_real), 1 - smoothing)`.
    pub source_real: Tensor,
    /// Mean `BCE(s(x_fake), 0)`.
    pub source_fake: Tensor,
    /// Mean cross-entropy of the class head on real images.
    pub class_real: Tensor,
    /// Mean cross-entropy of the class head on generated images (computed even when
    /// `aux_on_fake` is off, for logging).
    pub class_fake: Tensor,
}

/// The generator's loss and its parts, each a scalar f32 tensor on the device.
#[derive(Clone, Debug)]
pub struct GeneratorLoss {
    /// The quantity to minimise: `source + class`.
    pub total: Tensor,
    /// The source part: mean `BCE(s(x_fake), 1)`, or `-BCE(s(x_fake), 0)` when saturating.
    pub source: Tensor,
    /// Mean cross-entropy of the class head on generated images for their intended labels.
    pub class: Tensor,
}

impl AcGanLoss {
    /// Checks the options.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..1.0).contains(&self.real_label_smoothing) {
            return Err(Error::config(
                "AcGanLoss",
                format!(
                    "real_label_smoothing must be in [0, 1), found {}",
                    self.real_label_smoothing
                ),
            ));
        }
        Ok(())
    }

    /// D's loss from its outputs on a real batch and a generated batch.
    ///
    /// # Shapes
    /// - `real`, `fake`: source `(n,)`, class `(n, num_classes)` logits (the two batches may
    ///   differ in size)
    /// - `real_labels`, `fake_labels`: `(n,)` u32 for the matching batch
    pub fn discriminator(
        &self,
        real: &DiscriminatorOutput,
        real_labels: &Tensor,
        fake: &DiscriminatorOutput,
        fake_labels: &Tensor,
    ) -> Result<DiscriminatorLoss> {
        self.validate()?;
        let target_real = 1.0 - self.real_label_smoothing;
        let source_real = bce_with_logits_const(&real.source, target_real, "real source logits")?;
        let source_fake = bce_with_logits_const(&fake.source, 0.0, "fake source logits")?;
        let class_real = class_cross_entropy(&real.class, real_labels, "real")?;
        let class_fake = class_cross_entropy(&fake.class, fake_labels, "fake")?;
        let mut total = ((&source_real + &source_fake)? + &class_real)?;
        if self.aux_on_fake {
            total = (total + &class_fake)?;
        }
        Ok(DiscriminatorLoss {
            total,
            source_real,
            source_fake,
            class_real,
            class_fake,
        })
    }

    /// G's loss from D's outputs on generated images and the labels they were asked for.
    ///
    /// # Shapes
    /// - `fake`: source `(n,)`, class `(n, num_classes)` logits
    /// - `fake_labels`: `(n,)` u32
    pub fn generator(
        &self,
        fake: &DiscriminatorOutput,
        fake_labels: &Tensor,
    ) -> Result<GeneratorLoss> {
        let source = if self.saturating_generator {
            bce_with_logits_const(&fake.source, 0.0, "fake source logits")?.neg()?
        } else {
            bce_with_logits_const(&fake.source, 1.0, "fake source logits")?
        };
        let class = class_cross_entropy(&fake.class, fake_labels, "fake")?;
        Ok(GeneratorLoss {
            total: (&source + &class)?,
            source,
            class,
        })
    }
}

/// Mean binary cross-entropy between sigmoid(`logits`) and `targets`, in the form that is
/// finite for every finite logit: `max(x, 0) - x t + log(1 + exp(-|x|))`.
///
/// candle's `binary_cross_entropy_with_logit` takes the log of a sigmoid and returns inf or
/// NaN beyond about |x| = 17. The gradient of this form is `sigmoid(x) - t` everywhere,
/// including x = 0 (candle's relu and abs both take the x >= 0 branch there).
///
/// # Shapes
/// - `logits`, `targets`: the same shape; returns a scalar.
pub fn binary_cross_entropy_with_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    if logits.dims() != targets.dims() {
        return Err(Error::Shape {
            argument: "binary_cross_entropy_with_logits targets".into(),
            expected: format!("{:?} like the logits", logits.dims()),
            found: targets.dims().to_vec(),
            dtype: targets.dtype(),
        });
    }
    let softplus = (logits.relu()? + logits.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?)?;
    Ok((softplus - (logits * targets)?)?.mean_all()?)
}

fn bce_with_logits_const(logits: &Tensor, target: f64, argument: &str) -> Result<Tensor> {
    if logits.rank() != 1 {
        return Err(Error::Shape {
            argument: argument.into(),
            expected: "(batch,)".into(),
            found: logits.dims().to_vec(),
            dtype: logits.dtype(),
        });
    }
    let targets =
        Tensor::full(target as f32, logits.shape(), logits.device())?.to_dtype(logits.dtype())?;
    binary_cross_entropy_with_logits(logits, &targets)
}

/// Mean cross-entropy of class `logits` against integer `labels`, via a log-softmax that
/// subtracts the row maximum (so it is finite for any finite logits). Takes logits, never
/// probabilities: a softmax before this would be applied twice.
///
/// # Shapes
/// - `logits`: `(batch, num_classes)`; `labels`: `(batch,)` u32 below `num_classes`
/// - returns a scalar
pub fn cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    class_cross_entropy(logits, labels, "cross_entropy")
}

fn class_cross_entropy(logits: &Tensor, labels: &Tensor, which: &str) -> Result<Tensor> {
    let (batch, classes) = match logits.dims() {
        &[b, c] => (b, c),
        _ => {
            return Err(Error::Shape {
                argument: format!("{which} class logits"),
                expected: "(batch, num_classes)".into(),
                found: logits.dims().to_vec(),
                dtype: logits.dtype(),
            })
        }
    };
    check::labels(&format!("{which} labels"), labels, batch, classes)?;
    let log_p = candle_nn::ops::log_softmax(logits, 1)?;
    let picked = log_p.gather(&labels.to_dtype(DType::U32)?.unsqueeze(1)?, 1)?;
    Ok(picked.mean_all()?.neg()?)
}
