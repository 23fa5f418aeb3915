//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in `acgan`.
///
/// Variants that concern a file name the file; variants that concern a tensor name the
/// argument and give the shape or value that was found, so the message alone says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error raised by candle while computing on tensors.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),

    /// A file could not be opened, read, written or renamed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What the operating system reported.
        source: std::io::Error,
    },

    /// A file was read but its content is not what its format requires.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong, with the expected and found values.
        message: String,
    },

    /// A configuration value is out of its valid range.
    #[error("invalid {config}: {message}")]
    Config {
        /// Which configuration (`GeneratorConfig`, `AdamConfig`, ...).
        config: &'static str,
        /// Which field is wrong and why.
        message: String,
    },

    /// A tensor argument has the wrong rank, shape or dtype.
    #[error("{argument}: expected {expected}, found shape {found:?} of {dtype:?}")]
    Shape {
        /// The argument, e.g. `"Generator::forward_t noise"`.
        argument: String,
        /// The expected shape in words, e.g. `"(batch, 100) f32"`.
        expected: String,
        /// The dims that were passed.
        found: Vec<usize>,
        /// The dtype that was passed.
        dtype: candle_core::DType,
    },

    /// A class label is not below the number of classes.
    #[error("{argument}: label {label} is out of range for {num_classes} classes")]
    LabelOutOfRange {
        /// The argument holding the label.
        argument: String,
        /// The largest label found.
        label: u64,
        /// The number of classes the model was built for.
        num_classes: usize,
    },

    /// A checkpoint was written for a model whose configuration differs from this one.
    #[error(
        "{}: the {network} configuration differs in `{field}`: \
         checkpoint has {in_file}, this model has {in_model}",
        path.display()
    )]
    ConfigMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// Which configuration: `generator`, `discriminator` or `trainer`.
        network: &'static str,
        /// The first field that differs.
        field: String,
        /// The value stored in the file.
        in_file: String,
        /// The value of the model being loaded into.
        in_model: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A [`Error::Format`] for `path`.
    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Config`].
    pub(crate) fn config(config: &'static str, message: impl Into<String>) -> Self {
        Error::Config {
            config,
            message: message.into(),
        }
    }
}
