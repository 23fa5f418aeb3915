//! Reader for the binary formats of CIFAR-10 and CIFAR-100.
//!
//! A file is a plain run of fixed-size records with no header. A CIFAR-10 record is one
//! label byte and 3,072 pixel bytes; a CIFAR-100 record has two label bytes, the coarse
//! label (0..20) then the fine one (0..100), before the same 3,072 pixels. The pixels are
//! three planes, red then green then blue, each 32 rows of 32 bytes (row-major, top row
//! first), so a record's pixels are already in `(channels, height, width)` order.
//!
//! The number of records is the file size divided by the record size, so files shorter than
//! the official 10,000 records load as they are. A size that is not a whole number of
//! records is an error, found from the file's metadata before anything is read.
//!
//! [`load_cifar10_dir`] and [`load_cifar100_dir`] read the folders the official archives
//! unpack to (`cifar-10-batches-bin`, `cifar-100-binary`) into a [`Split`].

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use candle_core::Device;

use crate::data::{Dataset, Split};
use crate::{Error, Result};

/// Side of a CIFAR image in pixels.
pub const SIDE: usize = 32;
/// Pixel bytes of one record: 3 planes of 32 x 32.
pub const IMAGE_BYTES: usize = 3 * SIDE * SIDE;

/// CIFAR-10's class names in label order, used when a folder has no `batches.meta.txt`.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Which of a CIFAR-100 record's two labels becomes the dataset's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cifar100Labels {
    /// The 20 superclasses (first label byte).
    Coarse,
    /// The 100 classes (second label byte).
    Fine,
}

/// The record layout of a CIFAR binary file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CifarFormat {
    /// One label byte (0..10) per record.
    Cifar10,
    /// Two label bytes, coarse (0..20) then fine (0..100); the field picks the one kept.
    Cifar100(Cifar100Labels),
}

impl CifarFormat {
    /// Bytes per record: 3,073 for CIFAR-10, 3,074 for CIFAR-100.
    pub fn record_len(self) -> usize {
        self.label_limits().len() + IMAGE_BYTES
    }

    /// Number of classes of the label kept: 10, 20 (coarse) or 100 (fine).
    pub fn num_classes(self) -> usize {
        match self {
            CifarFormat::Cifar10 => 10,
            CifarFormat::Cifar100(Cifar100Labels::Coarse) => 20,
            CifarFormat::Cifar100(Cifar100Labels::Fine) => 100,
        }
    }

    /// "CIFAR-10" or "CIFAR-100", for messages.
    fn name(self) -> &'static str {
        match self {
            CifarFormat::Cifar10 => "CIFAR-10",
            CifarFormat::Cifar100(_) => "CIFAR-100",
        }
    }

    /// The name and class count of each label byte of a record, in file order.
    fn label_limits(self) -> &'static [(&'static str, u8)] {
        match self {
            CifarFormat::Cifar10 => &[("label", 10)],
            CifarFormat::Cifar100(_) => &[("coarse label", 20), ("fine label", 100)],
        }
    }

    /// Which label byte of a record is kept.
    fn kept_label(self) -> usize {
        match self {
            CifarFormat::Cifar100(Cifar100Labels::Fine) => 1,
            _ => 0,
        }
    }
}

/// The records of a CIFAR file, as bytes.
///
/// Pixel `(image i, channel ch, row r, column c)` is
/// `pixels[((i * 3 + ch) * 32 + r) * 32 + c]`, channels in R, G, B order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CifarRecords {
    /// The kept label of each record.
    pub labels: Vec<u8>,
    /// [`IMAGE_BYTES`] per record, record after record.
    pub pixels: Vec<u8>,
}

impl CifarRecords {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The records as a dataset of `(n, 3, 32, 32)` images in [-1, 1].
    fn into_dataset(self, class_names: Vec<String>, device: &Device) -> Result<Dataset> {
        let dims = [self.len(), 3, SIDE, SIDE];
        let labels = self.labels.iter().map(|&l| u32::from(l)).collect();
        Dataset::from_bytes(&self.pixels, dims, labels, class_names, device)
    }

    /// Appends `other`'s records after these.
    fn append(&mut self, mut other: CifarRecords) {
        self.labels.append(&mut other.labels);
        self.pixels.append(&mut other.pixels);
    }
}

/// Reads the CIFAR records in `bytes`; `name` stands for the file in errors.
///
/// # Errors
/// [`Error::Format`] naming `name` when `bytes` is empty or not a whole number of records,
/// or a label is not below its class count (the message gives the record and byte offset).
pub fn parse_records(
    bytes: &[u8],
    format: CifarFormat,
    name: impl AsRef<Path>,
) -> Result<CifarRecords> {
    let name = name.as_ref();
    let count = record_count(bytes.len() as u64, format, name)?;
    let mut records = CifarRecords {
        labels: Vec::with_capacity(count),
        pixels: Vec::with_capacity(count * IMAGE_BYTES),
    };
    let label_bytes = format.label_limits().len();
    for (index, record) in bytes.chunks_exact(format.record_len()).enumerate() {
        let (labels, pixels) = record.split_at(label_bytes);
        check_labels(labels, format, index, name)?;
        records.labels.push(labels[format.kept_label()]);
        records.pixels.extend_from_slice(pixels);
    }
    Ok(records)
}

/// Reads a CIFAR binary file.
///
/// # Errors
/// [`Error::Io`] when the file cannot be opened or read; [`Error::Format`] as for
/// [`parse_records`]. The size is checked before the file is read.
pub fn read_records(path: impl AsRef<Path>, format: CifarFormat) -> Result<CifarRecords> {
    let path = path.as_ref();
    let io_err = |e| Error::io(path, e);
    let file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    let count = record_count(len, format, path)?;
    let mut bytes = Vec::with_capacity(count * format.record_len());
    file.take(len).read_to_end(&mut bytes).map_err(io_err)?;
    parse_records(&bytes, format, path)
}

/// Loads a CIFAR-10 folder: training records from those of `data_batch_1.bin` ..
/// `data_batch_5.bin` that exist (at least one must), test records from `test_batch.bin`,
/// class names from `batches.meta.txt` when present (one per line, empty lines skipped),
/// else [`CIFAR10_CLASSES`].
///
/// # Shapes
/// - images: `(n, 3, 32, 32)` f32 in [-1, 1], channels R, G, B; labels `(n,)` u32
///
/// # Errors
/// [`Error::Io`] when no training file or no test file exists, or a file cannot be read;
/// [`Error::Format`] when a file is malformed or `batches.meta.txt` does not hold exactly
/// 10 names.
///
/// # Example
/// ```no_run
/// use acgan::data::cifar::load_cifar10_dir;
///
/// let data = load_cifar10_dir("data/cifar10-sample", &candle_core::Device::Cpu)?;
/// assert_eq!(data.train.images().dims(), &[4000, 3, 32, 32]);
/// assert_eq!(data.test.class_names()[0], "airplane");
/// # Ok::<(), acgan::Error>(())
/// ```
pub fn load_cifar10_dir(dir: impl AsRef<Path>, device: &Device) -> Result<Split> {
    let dir = dir.as_ref();
    let format = CifarFormat::Cifar10;
    let names = class_names(&dir.join("batches.meta.txt"), &CIFAR10_CLASSES)?;
    let train = read_training_batches(dir)?;
    let test = read_records(existing(dir, "test_batch.bin")?, format)?;
    Ok(Split {
        train: train.into_dataset(names.clone(), device)?,
        test: test.into_dataset(names, device)?,
    })
}

/// Loads a CIFAR-100 folder: `train.bin` and `test.bin`, labelled with the coarse or fine
/// labels. Class names come from `coarse_label_names.txt` or `fine_label_names.txt` when
/// present, else they are the label numbers.
///
/// # Shapes
/// As [`load_cifar10_dir`].
///
/// # Errors
/// As [`load_cifar10_dir`], with 20 or 100 names expected.
pub fn load_cifar100_dir(
    dir: impl AsRef<Path>,
    labels: Cifar100Labels,
    device: &Device,
) -> Result<Split> {
    let dir = dir.as_ref();
    let format = CifarFormat::Cifar100(labels);
    let names_file = match labels {
        Cifar100Labels::Coarse => "coarse_label_names.txt",
        Cifar100Labels::Fine => "fine_label_names.txt",
    };
    let numbers: Vec<String> = (0..format.num_classes()).map(|i| i.to_string()).collect();
    let names = class_names(&dir.join(names_file), &numbers)?;
    let train = read_records(existing(dir, "train.bin")?, format)?;
    let test = read_records(existing(dir, "test.bin")?, format)?;
    Ok(Split {
        train: train.into_dataset(names.clone(), device)?,
        test: test.into_dataset(names, device)?,
    })
}

/// The number of records in `len` bytes, or why `len` is not a whole number of records.
fn record_count(len: u64, format: CifarFormat, path: &Path) -> Result<usize> {
    let record = format.record_len() as u64;
    let problem = if len == 0 {
        format!("file is empty, expected records of {record} bytes")
    } else if !len.is_multiple_of(record) {
        let (whole, rest) = (len / record, len % record);
        format!(
            "size {len} bytes is not a multiple of the {record}-byte record of {} \
             ({whole} records and {rest} bytes left over)",
            format.name()
        )
    } else {
        return usize::try_from(len / record)
            .map_err(|_| Error::format(path, format!("{len} bytes do not fit in memory")));
    };
    Err(Error::format(path, problem))
}

/// Checks each label byte of record `index` is below its class count.
fn check_labels(labels: &[u8], format: CifarFormat, index: usize, path: &Path) -> Result<()> {
    let limits = format.label_limits().iter().zip(labels).enumerate();
    for (position, (&(what, limit), &label)) in limits {
        if label >= limit {
            let offset = index * format.record_len() + position;
            let message = format!(
                "record {index} (byte offset {offset}): {what} {label} is not below {limit}"
            );
            return Err(Error::format(path, message));
        }
    }
    Ok(())
}

/// Reads and joins the `data_batch_N.bin` files (N = 1..=5) that exist in `dir`.
fn read_training_batches(dir: &Path) -> Result<CifarRecords> {
    let paths: Vec<PathBuf> = (1..=5)
        .map(|n| dir.join(format!("data_batch_{n}.bin")))
        .filter(|path| path.is_file())
        .collect();
    if paths.is_empty() {
        existing(dir, "data_batch_1.bin")?;
    }
    let mut train = CifarRecords {
        labels: Vec::new(),
        pixels: Vec::new(),
    };
    for path in paths {
        train.append(read_records(path, CifarFormat::Cifar10)?);
    }
    Ok(train)
}

/// `dir/name` when it is a file, else a not-found error naming it.
fn existing(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    if path.is_file() {
        return Ok(path);
    }
    let message = format!("{name} not found in {}", dir.display());
    Err(Error::io(
        path,
        io::Error::new(io::ErrorKind::NotFound, message),
    ))
}

/// The names in `path`, one per non-empty line, or `defaults` when there is no such file.
/// The file must hold as many names as `defaults`.
fn class_names<S: AsRef<str>>(path: &Path, defaults: &[S]) -> Result<Vec<String>> {
    if !path.is_file() {
        return Ok(defaults.iter().map(|s| s.as_ref().to_string()).collect());
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Error::format(path, format!("class names are not UTF-8 ({e})")))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(String::from)
        .collect();
    if names.len() != defaults.len() {
        let (found, expected) = (names.len(), defaults.len());
        let message = format!("holds {found} class names, expected {expected}, one per line");
        return Err(Error::format(path, message));
    }
    Ok(names)
}
