//! The paper's evaluation toolkit: sample quality and diversity measures that any pipeline can
//! call on image tensors.

pub mod classifier;
pub mod diversity;
pub mod latent;
pub mod resolution;
pub mod scores;
pub mod ssim;
