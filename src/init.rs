//! Seeded initialisation of a [`VarMap`].
//!
//! candle's `Init::Randn` draws from an unseeded generator on the CPU, so two runs with the same
//! seed would start from different weights. [`SeededInit`] is a `VarBuilder` backend that
//! creates the missing variables of a `VarMap` from the crate's seeded generator instead.

use std::sync::Mutex;

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder, VarMap};
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};

use crate::rng::{self, Rng};

/// A `VarBuilder` backend over a [`VarMap`] whose new variables are drawn from a seeded
/// generator, in the order the model asks for them.
///
/// Supports `Init::Const`, `Init::Randn` and `Init::Uniform`; other initialisations are an
/// error. Existing variables are returned as they are.
pub struct SeededInit {
    varmap: VarMap,
    rng: Mutex<Rng>,
}

impl SeededInit {
    /// A backend that adds variables to `varmap`, drawing from a generator seeded with `seed`.
    pub fn new(varmap: VarMap, seed: u64) -> Self {
        Self {
            varmap,
            rng: Mutex::new(rng::seeded(seed)),
        }
    }

    /// A `VarBuilder` over `varmap` that initialises from `seed`.
    pub fn var_builder(varmap: &VarMap, seed: u64, device: &Device) -> VarBuilder<'static> {
        VarBuilder::from_backend(
            Box::new(Self::new(varmap.clone(), seed)),
            DType::F32,
            device.clone(),
        )
    }

    fn draw(&self, shape: &Shape, init: Init) -> candle_core::Result<Vec<f32>> {
        let n = shape.elem_count();
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let values = match init {
            Init::Const(c) => vec![c as f32; n],
            Init::Randn { mean, stdev } => (0..n)
                .map(|_| {
                    let z: f64 = StandardNormal.sample(&mut *rng);
                    (mean + stdev * z) as f32
                })
                .collect(),
            Init::Uniform { lo, up } => (0..n).map(|_| rng.random_range(lo..up) as f32).collect(),
            other => candle_core::bail!("SeededInit does not support {other:?}"),
        };
        Ok(values)
    }
}

impl SimpleBackend for SeededInit {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        init: Init,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let mut data = self
            .varmap
            .data()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(var) = data.get(name) {
            if var.shape() != &shape {
                candle_core::bail!("shape mismatch on {name}: {shape:?} <> {:?}", var.shape())
            }
            return Ok(var.as_tensor().clone());
        }
        let values = Tensor::from_vec(self.draw(&shape, init)?, shape, device)?.to_dtype(dtype)?;
        let var = Var::from_tensor(&values)?;
        let tensor = var.as_tensor().clone();
        data.insert(name.to_string(), var);
        Ok(tensor)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, _: &Device) -> candle_core::Result<Tensor> {
        let data = self
            .varmap
            .data()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match data.get(name) {
            Some(var) => var.as_tensor().to_dtype(dtype),
            None => {
                candle_core::bail!("SeededInit: no variable `{name}` and no shape to create it")
            }
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        let data = self
            .varmap
            .data()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        data.contains_key(name)
    }
}
