//! Datasets: readers for the file formats training data comes in, and the [`Dataset`] they
//! all return.
//!
//! | format | reader | classes |
//! | --- | --- | --- |
//! | MNIST, Fashion-MNIST, EMNIST (IDX, plain or gzip) | [`idx::load_split`] | given |
//! | CIFAR-10 binary batches | [`cifar::load_cifar10_dir`] | `batches.meta.txt` |
//! | CIFAR-100 binary | [`cifar::load_cifar100_dir`] | coarse or fine |
//! | PNG or JPEG files, one folder per class | [`folder::load_image_folder`] | folder names |
//!
//! Every reader returns images `(n, channels, height, width)` f32 in [-1, 1] (pixel `p`
//! becomes `p / 127.5 - 1`), row 0 at the top and column 0 at the left, colour channels in
//! R, G, B order; and labels `(n,)` u32. A malformed file gives an [`crate::Error`] naming
//! the file and what is wrong; sizes are checked against the file's length before memory
//! is allocated for them.
//!
//! # Example
//! ```no_run
//! use acgan::data::{cifar, Batching};
//!
//! # fn main() -> acgan::Result<()> {
//! let data = cifar::load_cifar10_dir("data/cifar10-sample", &candle_core::Device::Cpu)?;
//! // Cats and dogs only, relabelled 0 and 1.
//! let (pets, mapping) = data.train.subset(&[3, 5])?;
//! assert_eq!(mapping.original(1), Some(5));
//! let batching = Batching { batch_size: 64, seed: 7, ..Default::default() };
//! for batch in pets.epoch(&batching, 0)? {
//!     let (images, labels) = batch?;
//!     assert_eq!(images.dims(), &[64, 3, 32, 32]);
//!     assert_eq!(labels.dims(), &[64]);
//! }
//! # Ok(())
//! # }
//! ```

pub mod cifar;
pub(crate) mod dataset;
pub mod folder;
pub mod idx;

pub use dataset::{Batches, Batching, ClassMapping, Dataset, LastBatch, Split};
