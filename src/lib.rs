//! Auxiliary Classifier GANs (Odena, Olah and Shlens, "Conditional Image Synthesis with
//! Auxiliary Classifier GANs", ICML 2017) over [candle](https://github.com/huggingface/candle).
//!
//! An AC-GAN's generator `G(z, c)` draws an image of class `c` from noise `z`; its
//! discriminator answers two questions about an image: is it real (`P(S | x)`), and which class
//! is it (`P(C | x)`). D maximises `L_S + L_C`, G maximises `L_C - L_S` (see [`loss`]).
//!
//! The parts stand alone, so a pipeline can take just what it needs:
//!
//! - [`Generator`] and [`AuxDiscriminator`], built like candle layers from a config and a
//!   `VarBuilder`, with presets for MNIST, the paper's CIFAR-10 and ImageNet 128x128 networks;
//! - [`AcGanLoss`], which takes logits and returns every part of the objective;
//! - [`Adam`], whose moment estimates can be saved (candle's `AdamW` cannot);
//! - [`Trainer`], which owns both networks, one `VarMap` and one optimizer each, and a seeded
//!   generator, and runs a D update then a G update per [`Trainer::step`];
//! - [`checkpoint`], safetensors files that resume training exactly;
//! - [`data`]: a [`data::Dataset`] type with seeded batches and class subsets, and readers
//!   for MNIST-family IDX files, CIFAR-10/100 binary batches and folders of images;
//! - [`eval`]: the paper's evaluation (MS-SSIM diversity, classifier accuracy and its
//!   dependence on resolution, Inception Score, Frechet distance, latent walks);
//! - [`conv`], convolutions whose forward and backward passes are matrix products, and
//!   [`grid`], sample grids.
//!
//! # Conventions
//! Images are `(batch, channels, height, width)` f32 in [-1, 1]; labels `(batch,)` u32;
//! noise `(batch, latent_dim)` f32; logits `(batch, num_classes)`. Heads return logits and
//! losses take logits. Training and inference modes are explicit (`forward_t(.., train)`):
//! inference leaves batch-norm running statistics untouched. The library never prints; it
//! returns values such as [`StepStats`].
//!
//! # Example
//! ```
//! use acgan::{DiscriminatorConfig, GeneratorConfig, Trainer, TrainerConfig};
//! use candle_core::{Device, Tensor};
//!
//! # fn main() -> acgan::Result<()> {
//! let device = Device::Cpu;
//! let mut trainer = Trainer::new(
//!     &GeneratorConfig::mnist(),
//!     &DiscriminatorConfig::mnist(),
//!     TrainerConfig { seed: 42, ..Default::default() },
//!     &device,
//! )?;
//! // A real batch: (8, 1, 28, 28) in [-1, 1] and its labels.
//! let images = Tensor::zeros((8, 1, 28, 28), candle_core::DType::F32, &device)?;
//! let labels = Tensor::new(&[0u32, 1, 2, 3, 4, 5, 6, 7], &device)?;
//! let stats = trainer.step(&images, &labels)?;
//! assert!(stats.d_loss.is_finite());
//!
//! // Three samples of class 7, in inference mode.
//! let sevens = trainer.generate(&Tensor::new(&[7u32, 7, 7], &device)?)?;
//! assert_eq!(sevens.dims(), &[3, 1, 28, 28]);
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//! - `cuda`, `cudnn`: candle's CUDA backend (and cuDNN convolutions);
//! - `metal`: candle's Metal backend;
//! - `mkl`, `accelerate`: BLAS for candle's CPU matrix products.
//!
//! None is on by default. The crate's code is device-generic; seeded randomness (noise,
//! labels, dropout masks, initial weights) is drawn on the host so a seed means the same run
//! everywhere.
#![deny(missing_docs)]

mod check;
pub mod checkpoint;
pub mod conv;
pub mod data;
pub mod discriminator;
mod error;
pub mod eval;
pub mod generator;
pub mod grid;
pub mod init;
pub mod layers;
pub mod loss;
pub mod optim;
pub mod rng;
pub mod trainer;

pub use discriminator::{AuxDiscriminator, ConvLayer, DiscriminatorConfig, DiscriminatorOutput};
pub use error::{Error, Result};
pub use generator::{Conditioning, Generator, GeneratorConfig};
pub use layers::BatchNormSettings;
pub use loss::{AcGanLoss, DiscriminatorLoss, GeneratorLoss};
pub use optim::{Adam, AdamConfig};
pub use trainer::{FakeBatch, StepStats, Trainer, TrainerConfig};
