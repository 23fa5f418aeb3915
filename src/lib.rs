//! placeholder crate docs (being written)
#![deny(missing_docs)]

mod check;
pub mod checkpoint;
pub mod data;
pub mod discriminator;
mod error;
pub mod generator;
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
