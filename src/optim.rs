//! Adam with state that can be saved and restored.
//!
//! candle's `AdamW` keeps its moment estimates private, so a resumed run would restart them
//! from zero and diverge from an uninterrupted one. This optimizer exposes them.

use std::collections::BTreeMap;

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Adam's hyper-parameters. `Default` is the paper's: learning rate 2e-4, beta1 0.5,
/// beta2 0.999, no weight decay (candle's `ParamsAdamW::default()` differs: beta1 0.9 and
/// weight decay 0.01).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    /// Step size.
    pub learning_rate: f64,
    /// Decay of the first-moment estimate.
    pub beta1: f64,
    /// Decay of the second-moment estimate.
    pub beta2: f64,
    /// Added to the root of the second moment.
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            learning_rate: 2e-4,
            beta1: 0.5,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

impl AdamConfig {
    /// Checks the ranges: a positive learning rate, betas in [0, 1), eps > 0.
    pub fn validate(&self) -> Result<()> {
        let ok = self.learning_rate > 0.0
            && (0.0..1.0).contains(&self.beta1)
            && (0.0..1.0).contains(&self.beta2)
            && self.eps > 0.0;
        if !ok {
            return Err(Error::config(
                "AdamConfig",
                format!("out of range: {self:?}"),
            ));
        }
        Ok(())
    }
}

/// The moment estimates of one variable.
#[derive(Clone, Debug)]
pub struct Moments {
    /// First moment (mean of gradients).
    pub m: Tensor,
    /// Second moment (mean of squared gradients).
    pub v: Tensor,
}

/// Adam (Kingma and Ba 2015, algorithm 1) over the variables of one [`VarMap`].
///
/// Moments are created the first time a variable receives a gradient; variables that never
/// do (batch-norm running statistics) have none and are never changed by the optimizer.
#[derive(Debug)]
pub struct Adam {
    config: AdamConfig,
    vars: BTreeMap<String, Var>,
    moments: BTreeMap<String, Moments>,
    step: u64,
}

impl Adam {
    /// An optimizer over every variable currently in `varmap`, which must already hold the
    /// model (build the model first).
    pub fn new(varmap: &VarMap, config: AdamConfig) -> Result<Self> {
        config.validate()?;
        let data = varmap
            .data()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let vars = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        Ok(Self {
            config,
            vars,
            moments: BTreeMap::new(),
            step: 0,
        })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    /// Number of updates applied so far.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// The moment estimates by variable name.
    pub fn moments(&self) -> &BTreeMap<String, Moments> {
        &self.moments
    }

    /// Applies one update from `grads` to every variable that has a gradient there.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let c = self.config;
        let t = self.step as i32;
        let lr_m = c.learning_rate / (1.0 - c.beta1.powi(t));
        let v_scale = 1.0 / (1.0 - c.beta2.powi(t));
        for (name, var) in &self.vars {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let g = g.detach();
            let (m, v) = match self.moments.get(name) {
                Some(prev) => (
                    ((&prev.m * c.beta1)? + (&g * (1.0 - c.beta1))?)?,
                    ((&prev.v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?,
                ),
                None => ((&g * (1.0 - c.beta1))?, (g.sqr()? * (1.0 - c.beta2))?),
            };
            let denom = ((&v * v_scale)?.sqrt()? + c.eps)?;
            let update = ((&m * lr_m)? / denom)?;
            var.set(&(var.as_tensor() - update)?)?;
            self.moments.insert(name.clone(), Moments { m, v });
        }
        Ok(())
    }

    /// Replaces the state by a saved one: the step counter and the moments by name. Every
    /// name must be a variable of this optimizer with the same shape.
    pub fn restore(&mut self, step: u64, moments: BTreeMap<String, Moments>) -> Result<()> {
        for (name, mo) in &moments {
            let var = self.vars.get(name).ok_or_else(|| {
                Error::config(
                    "Adam state",
                    format!("moments for unknown variable `{name}`"),
                )
            })?;
            if mo.m.dims() != var.dims() || mo.v.dims() != var.dims() {
                return Err(Error::config(
                    "Adam state",
                    format!(
                        "moments of `{name}` have shapes {:?} and {:?}, the variable {:?}",
                        mo.m.dims(),
                        mo.v.dims(),
                        var.dims()
                    ),
                ));
            }
        }
        self.step = step;
        self.moments = moments;
        Ok(())
    }
}
