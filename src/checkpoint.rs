//! Checkpoints: one safetensors file holding a whole [`Trainer`].
//!
//! Tensors (all f32):
//! - `generator/<name>`, `discriminator/<name>`: every variable, batch-norm running
//!   statistics included;
//! - `adam/generator/m/<name>`, `adam/generator/v/<name>` and the same under
//!   `adam/discriminator/`: the optimizers' moment estimates.
//!
//! Metadata (strings): `format` (`acgan-checkpoint-1`), `generator_config`,
//! `discriminator_config` and `trainer_config` as JSON, `step`, the two optimizers' step
//! counts, and the positions of the trainer's generator (`rng`) and of the dropout masks
//! (`dropout_rng`) as JSON.
//!
//! Files are written to a temporary file beside the target and renamed into place, so an
//! interrupted save never leaves a half-written checkpoint under the final name.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use safetensors::SafeTensors;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::optim::{Adam, Moments};
use crate::rng::RngState;
use crate::{Error, Generator, GeneratorConfig, Result, Trainer};

/// The value of the `format` metadata key this version writes and reads.
pub const FORMAT: &str = "acgan-checkpoint-1";

pub(crate) fn save(trainer: &Trainer, path: &Path) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = Vec::new();
    push_vars(&mut tensors, "generator", &trainer.generator_vars);
    push_vars(&mut tensors, "discriminator", &trainer.discriminator_vars);
    push_moments(&mut tensors, "adam/generator", &trainer.generator_adam);
    push_moments(
        &mut tensors,
        "adam/discriminator",
        &trainer.discriminator_adam,
    );
    let meta = metadata(trainer)?;
    let bytes =
        safetensors::tensor::serialize(tensors.iter().map(|(k, t)| (k.as_str(), t)), Some(meta))
            .map_err(|e| Error::format(path, format!("cannot serialise checkpoint: {e}")))?;
    write_atomically(path, &bytes)
}

fn push_vars(out: &mut Vec<(String, Tensor)>, prefix: &str, vars: &VarMap) {
    let data = vars
        .data()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for (name, var) in data.iter() {
        out.push((format!("{prefix}/{name}"), var.as_tensor().clone()));
    }
}

fn push_moments(out: &mut Vec<(String, Tensor)>, prefix: &str, adam: &Adam) {
    for (name, moments) in adam.moments() {
        out.push((format!("{prefix}/m/{name}"), moments.m.clone()));
        out.push((format!("{prefix}/v/{name}"), moments.v.clone()));
    }
}

fn metadata(t: &Trainer) -> Result<HashMap<String, String>> {
    let entries = [
        ("format", FORMAT.to_string()),
        ("generator_config", json(t.generator.config())?),
        ("discriminator_config", json(t.discriminator.config())?),
        ("trainer_config", json(&t.config)?),
        ("step", t.step.to_string()),
        (
            "generator_adam_step",
            t.generator_adam.step_count().to_string(),
        ),
        (
            "discriminator_adam_step",
            t.discriminator_adam.step_count().to_string(),
        ),
        ("rng", json(&RngState::of(&t.rng))?),
        ("dropout_rng", json(&t.discriminator.dropout_rng_state())?),
    ];
    Ok(entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect())
}

fn json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::config("checkpoint", format!("cannot encode metadata: {e}")))
}

/// Writes `bytes` to a temporary file in `path`'s folder, flushes it to disk and renames it
/// over `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// A safetensors file read into memory: its metadata and tensors. Shared with the judging
/// classifier's checkpoints, which differ only in their `format`.
pub(crate) struct Contents {
    pub path: PathBuf,
    pub meta: HashMap<String, String>,
    pub tensors: HashMap<String, Tensor>,
}

impl Contents {
    /// Reads `path`, requiring the metadata key `format` to equal `format`.
    pub fn read(path: &Path, device: &Device, format: &str) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let bad = |what: String| Error::format(path, what);
        let (_, header) = SafeTensors::read_metadata(&bytes)
            .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        let meta = header.metadata().clone().unwrap_or_default();
        match meta.get("format") {
            Some(found) if found == format => {}
            found => {
                let found = found.map_or("missing".to_string(), |f| format!("{f:?}"));
                return Err(bad(format!(
                    "metadata `format` is {found}, expected {format:?}"
                )));
            }
        }
        let tensors = candle_core::safetensors::load_buffer(&bytes, device)
            .map_err(|e| bad(format!("cannot read tensors: {e}")))?;
        Ok(Self {
            path: path.to_path_buf(),
            meta,
            tensors,
        })
    }

    /// The metadata value `key`, parsed as JSON, or `None` when absent.
    pub fn optional<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let Some(text) = self.meta.get(key) else {
            return Ok(None);
        };
        serde_json::from_str(text)
            .map(Some)
            .map_err(|e| Error::format(&self.path, format!("metadata `{key}` is malformed: {e}")))
    }

    fn text(&self, key: &str) -> Result<&str> {
        self.meta.get(key).map(String::as_str).ok_or_else(|| {
            Error::format(
                &self.path,
                format!("metadata has no `{key}` (not an acgan checkpoint?)"),
            )
        })
    }

    /// The metadata value `key`, parsed as JSON; an error when absent.
    pub fn parse<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        self.optional(key)?.ok_or_else(|| {
            Error::format(
                &self.path,
                format!("metadata has no `{key}` (not an acgan checkpoint?)"),
            )
        })
    }

    fn number(&self, key: &str) -> Result<u64> {
        let text = self.text(key)?;
        text.parse().map_err(|_| {
            Error::format(
                &self.path,
                format!("metadata `{key}` is not a count: {text:?}"),
            )
        })
    }

    /// The tensors under `prefix/`, with the prefix removed.
    fn group(&self, prefix: &str) -> HashMap<String, Tensor> {
        let prefix = format!("{prefix}/");
        self.tensors
            .iter()
            .filter_map(|(k, t)| {
                k.strip_prefix(&prefix)
                    .map(|name| (name.to_string(), t.clone()))
            })
            .collect()
    }

    fn rng(&self, key: &str) -> Result<crate::rng::Rng> {
        let state: RngState = self.parse(key)?;
        state
            .restore()
            .map_err(|e| Error::format(&self.path, format!("metadata `{key}`: {e}")))
    }
}

pub(crate) fn load(path: &Path, device: &Device) -> Result<Trainer> {
    let contents = Contents::read(path, device, FORMAT)?;
    let g: GeneratorConfig = contents.parse("generator_config")?;
    let d = contents.parse("discriminator_config")?;
    let config = contents.parse("trainer_config")?;
    let mut trainer = Trainer::new(&g, &d, config, device)?;
    restore_contents(&mut trainer, &contents)?;
    Ok(trainer)
}

pub(crate) fn restore(trainer: &mut Trainer, path: &Path) -> Result<()> {
    let contents = Contents::read(path, &trainer.device, FORMAT)?;
    compare(
        &contents,
        "generator",
        "generator_config",
        trainer.generator.config(),
    )?;
    compare(
        &contents,
        "discriminator",
        "discriminator_config",
        trainer.discriminator.config(),
    )?;
    compare(&contents, "trainer", "trainer_config", &trainer.config)?;
    restore_contents(trainer, &contents)
}

fn restore_contents(t: &mut Trainer, c: &Contents) -> Result<()> {
    set_vars(c, "generator", &t.generator_vars)?;
    set_vars(c, "discriminator", &t.discriminator_vars)?;
    restore_adam(c, "generator", &mut t.generator_adam)?;
    restore_adam(c, "discriminator", &mut t.discriminator_adam)?;
    t.step = c.number("step")?;
    t.rng = c.rng("rng")?;
    t.discriminator.set_dropout_rng(c.rng("dropout_rng")?);
    Ok(())
}

/// Sets every variable of `vars` from the file; a missing or extra tensor, or one of another
/// shape, is an error naming it.
fn set_vars(c: &Contents, prefix: &str, vars: &VarMap) -> Result<()> {
    let stored = c.group(prefix);
    let data = vars
        .data()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(extra) = stored.keys().find(|k| !data.contains_key(*k)) {
        return Err(Error::format(
            &c.path,
            format!("`{prefix}/{extra}` is not a variable of the model"),
        ));
    }
    for (name, var) in data.iter() {
        let tensor = stored
            .get(name)
            .ok_or_else(|| Error::format(&c.path, format!("`{prefix}/{name}` is missing")))?;
        if tensor.dims() != var.dims() {
            let msg = format!(
                "`{prefix}/{name}` has shape {:?}, the model {:?}",
                tensor.dims(),
                var.dims()
            );
            return Err(Error::format(&c.path, msg));
        }
        var.set(&tensor.to_dtype(var.dtype())?)?;
    }
    Ok(())
}

fn restore_adam(c: &Contents, which: &str, adam: &mut Adam) -> Result<()> {
    let m = c.group(&format!("adam/{which}/m"));
    let mut v = c.group(&format!("adam/{which}/v"));
    let mut moments = BTreeMap::new();
    for (name, m) in m {
        let v = v
            .remove(&name)
            .ok_or_else(|| Error::format(&c.path, format!("`adam/{which}/v/{name}` is missing")))?;
        moments.insert(name, Moments { m, v });
    }
    let step = c.number(&format!("{which}_adam_step"))?;
    adam.restore(step, moments)
        .map_err(|e| Error::format(&c.path, e.to_string()))
}

/// Fails with [`Error::ConfigMismatch`] naming the first field where the file's configuration
/// differs from `ours`.
fn compare<T: Serialize>(c: &Contents, network: &'static str, key: &str, ours: &T) -> Result<()> {
    let theirs: Value = c.parse(key)?;
    let ours = serde_json::to_value(ours)
        .map_err(|e| Error::config("checkpoint", format!("cannot encode {network} config: {e}")))?;
    match first_difference(&theirs, &ours, "") {
        None => Ok(()),
        Some((field, in_file, in_model)) => Err(Error::ConfigMismatch {
            path: c.path.clone(),
            network,
            field,
            in_file,
            in_model,
        }),
    }
}

/// The dotted path of the first differing field of two JSON values, and both values there.
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<(String, String, String)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                first_difference(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    &path,
                )
            })
        }
        _ if a == b => None,
        _ => Some((at.to_string(), a.to_string(), b.to_string())),
    }
}

/// Loads only the generator of a checkpoint, with the configuration stored in it, for
/// sampling. Its batch norm is ready for inference (`forward_t(.., false)`).
pub fn load_generator(path: impl AsRef<Path>, device: &Device) -> Result<Generator> {
    let path = path.as_ref();
    let contents = Contents::read(path, device, FORMAT)?;
    let config: GeneratorConfig = contents.parse("generator_config")?;
    let weights = contents.group("generator");
    let vb = VarBuilder::from_tensors(weights, candle_core::DType::F32, device);
    Generator::new(&config, vb).map_err(|e| Error::format(path, format!("generator weights: {e}")))
}
