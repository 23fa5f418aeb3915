//! The building blocks of the generator and discriminator: linear and convolution layers with
//! the DCGAN initialisation, batch-norm settings named by meaning, and seeded dropout.

use candle_core::{DType, Tensor};
use candle_nn::{Init, VarBuilder};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::rng::Rng;
use crate::Result;

/// Standard deviation of the normal initialisation of every weight (Radford et al., DCGAN,
/// section 4, followed by the AC-GAN reference implementations).
pub const INIT_STD: f64 = 0.02;

fn weight_init() -> Init {
    Init::Randn {
        mean: 0.0,
        stdev: INIT_STD,
    }
}

/// Batch-norm hyper-parameters, named so they cannot be swapped by position.
///
/// `momentum` follows PyTorch's (and candle's) convention, the weight of the *new* batch:
/// `running = (1 - momentum) * running + momentum * batch_statistic`. Keras' `momentum = 0.99`
/// is `momentum = 0.01` here. The running variance is updated with the unbiased batch variance,
/// and normalisation in training mode uses the biased one, as in PyTorch.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchNormSettings {
    /// Weight of the current batch in the running statistics, in `[0, 1]`.
    pub momentum: f64,
    /// Added to the variance before the square root.
    pub eps: f64,
}

impl Default for BatchNormSettings {
    /// PyTorch's defaults: momentum 0.1, epsilon 1e-5.
    fn default() -> Self {
        Self {
            momentum: 0.1,
            eps: 1e-5,
        }
    }
}

impl BatchNormSettings {
    pub(crate) fn validate(&self, config: &'static str) -> Result<()> {
        if !(0.0..=1.0).contains(&self.momentum) || self.eps.is_nan() || self.eps < 0.0 {
            return Err(crate::Error::config(
                config,
                format!(
                    "batch_norm needs momentum in [0, 1] and eps >= 0, found momentum {} eps {}",
                    self.momentum, self.eps
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn build(&self, features: usize, vb: VarBuilder) -> Result<candle_nn::BatchNorm> {
        let weight = vb.get_with_hints(
            features,
            "weight",
            Init::Randn {
                mean: 1.0,
                stdev: INIT_STD,
            },
        )?;
        let bias = vb.get_with_hints(features, "bias", Init::Const(0.0))?;
        let mean = vb.get_with_hints(features, "running_mean", Init::Const(0.0))?;
        let var = vb.get_with_hints(features, "running_var", Init::Const(1.0))?;
        let bn = candle_nn::BatchNorm::new_with_momentum(
            features,
            mean,
            var,
            weight,
            bias,
            self.eps,
            self.momentum,
        )?;
        Ok(bn)
    }
}

/// A fully connected layer, `y = x W^T + b`, with `W` of shape `(out, in)`.
pub(crate) fn linear(input: usize, output: usize, vb: VarBuilder) -> Result<candle_nn::Linear> {
    let weight = vb.get_with_hints((output, input), "weight", weight_init())?;
    let bias = vb.get_with_hints(output, "bias", Init::Const(0.0))?;
    Ok(candle_nn::Linear::new(weight, Some(bias)))
}

/// A square 2-D convolution with `padding = kernel / 2`, weights `(out, in, k, k)`.
#[derive(Clone, Debug)]
pub(crate) struct Conv2d {
    weight: Tensor,
    bias: Tensor,
    stride: usize,
    padding: usize,
}

impl Conv2d {
    pub fn new(
        input: usize,
        output: usize,
        kernel: usize,
        stride: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let weight = vb.get_with_hints((output, input, kernel, kernel), "weight", weight_init())?;
        let bias = vb.get_with_hints(output, "bias", Init::Const(0.0))?;
        Ok(Self {
            weight,
            bias,
            stride,
            padding: kernel / 2,
        })
    }

    /// The kernel weights `(out, in, k, k)` and the bias `(out,)`, for saving.
    pub fn weight_and_bias(&self) -> (&Tensor, &Tensor) {
        (&self.weight, &self.bias)
    }

    /// Output side for an input side.
    pub fn output_size(kernel: usize, stride: usize, input: usize) -> usize {
        (input + 2 * (kernel / 2) - kernel) / stride + 1
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = crate::conv::conv2d(x, &self.weight, self.padding, self.stride)?;
        Ok(y.broadcast_add(&self.bias.reshape((1, (), 1, 1))?)?)
    }
}

/// A square transposed convolution that exactly doubles height and width, weights
/// `(in, out, k, k)`. Even kernels use `padding = k/2 - 1`; odd kernels use
/// `padding = (k-1)/2` and one row and column of output padding (TensorFlow's `"same"`).
#[derive(Clone, Debug)]
pub(crate) struct ConvTranspose2d {
    weight: Tensor,
    bias: Tensor,
    padding: usize,
    output_padding: usize,
}

impl ConvTranspose2d {
    pub fn new(input: usize, output: usize, kernel: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints((input, output, kernel, kernel), "weight", weight_init())?;
        let bias = vb.get_with_hints(output, "bias", Init::Const(0.0))?;
        let (padding, output_padding) = if kernel.is_multiple_of(2) {
            (kernel / 2 - 1, 0)
        } else {
            ((kernel - 1) / 2, 1)
        };
        Ok(Self {
            weight,
            bias,
            padding,
            output_padding,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y =
            crate::conv::conv_transpose2d(x, &self.weight, self.padding, self.output_padding, 2)?;
        Ok(y.broadcast_add(&self.bias.reshape((1, (), 1, 1))?)?)
    }
}

/// Inverted dropout with a mask drawn from `rng`: each element is zeroed with probability `p`
/// and the survivors are scaled by `1 / (1 - p)`.
///
/// candle's own dropout draws from an unseeded generator; drawing here keeps a seeded run
/// reproducible and resumable.
pub(crate) fn dropout(x: &Tensor, p: f32, rng: &mut Rng) -> Result<Tensor> {
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let scale = 1.0 / (1.0 - p);
    let mask: Vec<f32> = (0..x.elem_count())
        .map(|_| if rng.random::<f32>() < p { 0.0 } else { scale })
        .collect();
    let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
    Ok((x * mask)?)
}

/// `(batch,)` u32 labels to a `(batch, num_classes)` one-hot matrix of `dtype`, on the labels'
/// device.
pub(crate) fn one_hot(labels: &Tensor, num_classes: usize, dtype: DType) -> Result<Tensor> {
    let classes = Tensor::arange(0u32, num_classes as u32, labels.device())?;
    let hot = labels.unsqueeze(1)?.broadcast_eq(&classes.unsqueeze(0)?)?;
    Ok(hot.to_dtype(dtype)?)
}
