//! Reader and writer for the IDX format of MNIST, Fashion-MNIST and EMNIST.
//!
//! An IDX file starts with a big-endian `u32` magic number made of two zero bytes, a type
//! byte and the number of dimensions. One big-endian `u32` per dimension follows, then the
//! data in row-major order. Image files have three dimensions `(count, rows, cols)` and
//! magic `0x00000803`; label files have one, `(count,)`, and magic `0x00000801`. Only the
//! unsigned-byte type `0x08` is supported, the one these datasets use.
//!
//! Files may be gzip-compressed. Compression is recognised by the file's first two bytes,
//! not by its name. Memory is never allocated from the header's claim alone: a plain
//! file's length is compared with the header before its data is read, and a gzip stream is
//! read at most one byte past what the header announces.
//!
//! [`read_images`] and [`read_labels`] read files; [`parse_images`] and [`parse_labels`]
//! read the same bytes from memory, through the same code. [`load_split`] turns a folder of
//! the four standard files into a [`Split`] of [`Dataset`]s.
//!
//! EMNIST's files store each image transposed (column after column), unlike MNIST and
//! Fashion-MNIST; call [`Dataset::transpose_images`] on what [`load_split`] returns to see
//! its letters upright.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use flate2::read::MultiGzDecoder;

use crate::data::dataset::join;
use crate::data::{Dataset, Split};
use crate::{Error, Result};

/// The IDX type byte for unsigned bytes, the only type supported.
const UNSIGNED_BYTE: u8 = 0x08;
/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Deflate's largest compression ratio: no stream inflates to more than this many bytes per
/// compressed byte, which bounds what a gzip file can hold.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// The class names of MNIST (and of any digit set): `"0"` to `"9"`.
pub const DIGIT_CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// The class names of Fashion-MNIST, in label order, as its authors list them.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Raw images of an IDX file, row-major u8 pixels.
///
/// Pixel `(image i, row r, column c)` is `pixels[(i * rows + r) * cols + c]`. In MNIST,
/// 0 is background and 255 is ink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Height of each image in pixels.
    pub rows: usize,
    /// Width of each image in pixels.
    pub cols: usize,
    /// `count * rows * cols` pixels, image after image, row after row.
    pub pixels: Vec<u8>,
}

impl IdxImages {
    /// `count * rows * cols`, or `None` when the product overflows `usize`.
    fn expected_len(&self) -> Option<usize> {
        self.count.checked_mul(self.rows)?.checked_mul(self.cols)
    }

    /// What `pixels` should hold, in words, for error messages.
    fn expected_text(&self) -> String {
        let dims = join_dims(&[self.count, self.rows, self.cols]);
        match self.expected_len() {
            Some(len) => format!("count x rows x cols = {dims} = {len} pixels"),
            None => format!("count x rows x cols = {dims} pixels (overflows usize)"),
        }
    }
}

/// A train/test pair of an MNIST-family folder as tensors.
///
/// # Shapes
/// - `train_images`, `test_images`: `(count, 1, rows, cols)` f32 in [-1, 1]
/// - `train_labels`, `test_labels`: `(count,)` u32
#[derive(Debug, Clone)]
pub struct MnistData {
    /// Training images.
    pub train_images: Tensor,
    /// Training labels, one per training image.
    pub train_labels: Tensor,
    /// Test images, the same height and width as the training images.
    pub test_images: Tensor,
    /// Test labels, one per test image.
    pub test_labels: Tensor,
}

/// Reads an IDX image file (magic `0x00000803`), plain or gzip-compressed.
///
/// # Errors
/// [`Error::Io`] when the file cannot be opened or read; [`Error::Format`] when the magic
/// number is wrong, the dimensions overflow, the data is shorter or longer than the
/// header says, or a gzip stream is corrupt or truncated.
pub fn read_images(path: impl AsRef<Path>) -> Result<IdxImages> {
    images_from(Source::open(path.as_ref())?)
}

/// Reads an IDX label file (magic `0x00000801`), plain or gzip-compressed.
///
/// # Errors
/// As [`read_images`].
pub fn read_labels(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    labels_from(Source::open(path.as_ref())?)
}

/// Reads IDX image data (magic `0x00000803`), plain or gzip-compressed, from memory;
/// `name` stands for the file in errors.
///
/// # Errors
/// [`Error::Format`] naming `name`, for the reasons [`read_images`] gives.
pub fn parse_images(bytes: &[u8], name: impl AsRef<Path>) -> Result<IdxImages> {
    images_from(Source::from_bytes(bytes, name.as_ref()))
}

/// Reads IDX label data (magic `0x00000801`), plain or gzip-compressed, from memory;
/// `name` stands for the file in errors.
///
/// # Errors
/// As [`parse_images`].
pub fn parse_labels(bytes: &[u8], name: impl AsRef<Path>) -> Result<Vec<u8>> {
    labels_from(Source::from_bytes(bytes, name.as_ref()))
}

/// Reads an image file from `source`.
fn images_from(mut source: Source<'_>) -> Result<IdxImages> {
    let ([count, rows, cols], pixels) = read_idx(&mut source, "pixels")?;
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels,
    })
}

/// Reads a label file from `source`.
fn labels_from(mut source: Source<'_>) -> Result<Vec<u8>> {
    let ([_count], labels) = read_idx(&mut source, "labels")?;
    Ok(labels)
}

/// Writes `images` as a plain (uncompressed) IDX image file.
///
/// # Errors
/// [`Error::Format`] naming `path` when `images.pixels` does not hold
/// `count * rows * cols` bytes or a dimension does not fit in a `u32`; [`Error::Io`] when
/// the file cannot be written.
pub fn write_images(path: impl AsRef<Path>, images: &IdxImages) -> Result<()> {
    let path = path.as_ref();
    if images.expected_len() != Some(images.pixels.len()) {
        let message = format!(
            "cannot write images: expected {}, `pixels` holds {}",
            images.expected_text(),
            images.pixels.len()
        );
        return Err(Error::format(path, message));
    }
    let dims = [images.count, images.rows, images.cols];
    write_idx(path, &dims, &images.pixels)
}

/// Writes `labels` as a plain (uncompressed) IDX label file.
///
/// # Errors
/// [`Error::Format`] when there are more than `u32::MAX` labels; [`Error::Io`] when the
/// file cannot be written.
pub fn write_labels(path: impl AsRef<Path>, labels: &[u8]) -> Result<()> {
    write_idx(path.as_ref(), &[labels.len()], labels)
}

/// Loads the four standard files from `dir`: `train-images-idx3-ubyte`,
/// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`.
///
/// Each file may be plain or carry a `.gz` suffix; when both exist the plain one is used.
/// Images become f32 in [-1, 1] as in [`images_to_tensor`].
///
/// # Shapes
/// See [`MnistData`].
///
/// # Errors
/// [`Error::Io`] naming both names tried when neither exists; [`Error::Format`] when a
/// file is malformed, a label file holds a different number of labels than its image
/// file has images, a label is not below `num_classes`, or the train and test images
/// differ in size.
///
/// # Example
/// ```no_run
/// use acgan::data::idx::load_mnist_dir;
///
/// let data = load_mnist_dir("data/mnist-5k", 10, &candle_core::Device::Cpu)?;
/// assert_eq!(data.train_images.dims(), &[4000, 1, 28, 28]);
/// # Ok::<(), acgan::Error>(())
/// ```
pub fn load_mnist_dir(
    dir: impl AsRef<Path>,
    num_classes: usize,
    device: &Device,
) -> Result<MnistData> {
    let (train, test) = load_halves(dir.as_ref(), num_classes)?;
    Ok(MnistData {
        train_images: images_to_tensor(&train.images, device)?,
        train_labels: labels_to_tensor(&train.labels, device)?,
        test_images: images_to_tensor(&test.images, device)?,
        test_labels: labels_to_tensor(&test.labels, device)?,
    })
}

/// Loads the four standard files from `dir`, as [`load_mnist_dir`] does, into a [`Split`]
/// whose classes are named `class_names` (their number is the number of classes).
///
/// # Shapes
/// - images: `(count, 1, rows, cols)` f32 in [-1, 1]; labels `(count,)` u32
///
/// # Errors
/// As [`load_mnist_dir`].
///
/// # Example
/// ```no_run
/// use acgan::data::idx::{load_split, FASHION_MNIST_CLASSES};
///
/// let dir = "/usr/share/datasets/fashion-mnist";
/// let data = load_split(dir, &FASHION_MNIST_CLASSES, &candle_core::Device::Cpu)?;
/// assert_eq!(data.train.len(), 60_000);
/// assert_eq!(data.test.class_names()[9], "Ankle boot");
/// # Ok::<(), acgan::Error>(())
/// ```
pub fn load_split<S: AsRef<str>>(
    dir: impl AsRef<Path>,
    class_names: &[S],
    device: &Device,
) -> Result<Split> {
    let names: Vec<String> = class_names.iter().map(|s| s.as_ref().to_string()).collect();
    let (train, test) = load_halves(dir.as_ref(), names.len())?;
    let (train, test) = join(
        || train.into_dataset(names.clone(), device),
        || test.into_dataset(names.clone(), device),
    );
    Ok(Split {
        train: train?,
        test: test?,
    })
}

/// [`load_split`] with Fashion-MNIST's class names.
///
/// # Errors
/// As [`load_mnist_dir`].
pub fn load_fashion_mnist(dir: impl AsRef<Path>, device: &Device) -> Result<Split> {
    load_split(dir, &FASHION_MNIST_CLASSES, device)
}

/// Reads and checks both halves of an MNIST folder, at the same time.
fn load_halves(dir: &Path, num_classes: usize) -> Result<(Half, Half)> {
    let (train, test) = join(
        || Half::load(dir, "train", num_classes),
        || Half::load(dir, "t10k", num_classes),
    );
    let (train, test) = (train?, test?);
    check_same_size(&train, &test)?;
    Ok((train, test))
}

/// Converts u8 images to an f32 tensor in [-1, 1], pixel `p` becoming `p / 127.5 - 1`.
///
/// # Shapes
/// - returns `(count, 1, rows, cols)` f32
///
/// # Errors
/// [`Error::Shape`] when `pixels` does not hold `count * rows * cols` bytes.
pub fn images_to_tensor(images: &IdxImages, device: &Device) -> Result<Tensor> {
    if images.expected_len() != Some(images.pixels.len()) {
        return Err(Error::Shape {
            argument: "images_to_tensor images.pixels".into(),
            expected: images.expected_text(),
            found: vec![images.pixels.len()],
            dtype: DType::U8,
        });
    }
    let values = crate::data::dataset::to_unit_range(&images.pixels);
    let shape = (images.count, 1, images.rows, images.cols);
    Ok(Tensor::from_vec(values, shape, device)?)
}

/// Converts u8 labels to a u32 tensor.
///
/// # Shapes
/// - returns `(count,)` u32
pub fn labels_to_tensor(labels: &[u8], device: &Device) -> Result<Tensor> {
    let values: Vec<u32> = labels.iter().map(|&label| u32::from(label)).collect();
    Ok(Tensor::from_vec(values, labels.len(), device)?)
}

/// Converts images in [-1, 1] back to u8 pixels, `x` becoming `round((x + 1) * 127.5)`
/// clamped to 0..=255, for writing generated samples with [`write_images`].
///
/// # Shapes
/// - `images`: `(count, 1, height, width)`, any float dtype
///
/// # Errors
/// [`Error::Shape`] when `images` is not of rank 4 with one channel, or not a float tensor.
pub fn tensor_to_images(images: &Tensor) -> Result<IdxImages> {
    let (count, rows, cols) = single_channel_dims(images)?;
    let values = images
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let pixels = values.iter().map(|&x| crate::grid::to_byte(x));
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: pixels.collect(),
    })
}

/// `(count, height, width)` of a `(count, 1, height, width)` float tensor.
fn single_channel_dims(images: &Tensor) -> Result<(usize, usize, usize)> {
    match *images.dims() {
        [count, 1, rows, cols] if images.dtype().is_float() => Ok((count, rows, cols)),
        _ => Err(Error::Shape {
            argument: "tensor_to_images images".into(),
            expected: "(count, 1, height, width) float".into(),
            found: images.dims().to_vec(),
            dtype: images.dtype(),
        }),
    }
}

/// IDX data being read: a reader over its (decompressed) bytes, and its path for errors.
struct Source<'a> {
    path: PathBuf,
    reader: Box<dyn Read + 'a>,
    /// The length of the data when it is plain; `None` when it is gzip.
    plain_len: Option<u64>,
    /// The length of the data as stored, compressed or not.
    stored_len: u64,
}

impl<'a> Source<'a> {
    /// Opens `path`, decompressing when it starts with the gzip magic bytes.
    fn open(path: &Path) -> Result<Self> {
        let io_err = |e| Error::io(path, e);
        let mut file = File::open(path).map_err(io_err)?;
        let gzip = starts_with_gzip(&mut file).map_err(io_err)?;
        let stored_len = file.metadata().map_err(io_err)?.len();
        let (reader, plain_len): (Box<dyn Read>, _) = if gzip {
            (Box::new(MultiGzDecoder::new(file)), None)
        } else {
            (Box::new(BufReader::new(file)), Some(stored_len))
        };
        let path = path.to_path_buf();
        Ok(Self {
            path,
            reader,
            plain_len,
            stored_len,
        })
    }

    /// Reads `bytes`, decompressing when they start with the gzip magic bytes.
    fn from_bytes(bytes: &'a [u8], name: &Path) -> Self {
        let (reader, plain_len): (Box<dyn Read + 'a>, _) = if bytes.starts_with(&GZIP_MAGIC) {
            (Box::new(MultiGzDecoder::new(bytes)), None)
        } else {
            (Box::new(bytes), Some(bytes.len() as u64))
        };
        Self {
            path: name.to_path_buf(),
            reader,
            plain_len,
            stored_len: bytes.len() as u64,
        }
    }

    /// An [`Error::Format`] for this file.
    fn format(&self, message: impl Into<String>) -> Error {
        Error::format(&self.path, message)
    }

    /// A read error: a gzip stream that cannot be decoded is a format error, not an I/O one.
    fn read_error(&self, err: io::Error) -> Error {
        use io::ErrorKind::{InvalidData, InvalidInput, UnexpectedEof};
        let undecodable = matches!(err.kind(), InvalidData | InvalidInput | UnexpectedEof);
        if self.plain_len.is_none() && undecodable {
            self.format(format!("gzip stream is corrupt or truncated ({err})"))
        } else {
            Error::io(&self.path, err)
        }
    }

    /// Reads the next big-endian `u32` of the header; `what` names it for errors.
    fn read_u32(&mut self, what: &str) -> Result<u32> {
        let mut word = [0; 4];
        match self.reader.read_exact(&mut word) {
            Ok(()) => Ok(u32::from_be_bytes(word)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(self.format(format!(
                "data ends inside the IDX header, at the {what} ({e})"
            ))),
            Err(e) => Err(self.read_error(e)),
        }
    }
}

/// Whether `file` starts with the gzip magic bytes; leaves it rewound to the start.
fn starts_with_gzip(file: &mut File) -> io::Result<bool> {
    let mut prefix = Vec::with_capacity(2);
    file.take(2).read_to_end(&mut prefix)?;
    file.rewind()?;
    Ok(prefix == GZIP_MAGIC)
}

/// Reads IDX data of `N` dimensions; `noun` names its elements in errors.
fn read_idx<const N: usize>(source: &mut Source, noun: &str) -> Result<([usize; N], Vec<u8>)> {
    let dims = read_header::<N>(source)?;
    let data = read_data(source, &dims, noun)?;
    Ok((dims, data))
}

/// Reads and checks the magic number, then reads the `N` dimension sizes.
fn read_header<const N: usize>(source: &mut Source) -> Result<[usize; N]> {
    let magic = source.read_u32("magic number")?;
    check_magic(source, magic, N)?;
    let mut dims = [0; N];
    for (i, dim) in dims.iter_mut().enumerate() {
        *dim = source.read_u32(&format!("size of dimension {i}"))? as usize;
    }
    Ok(dims)
}

/// Checks `magic` is `0x000008NN` with `NN = ndims`; the error gives both in hex.
fn check_magic(source: &Source, magic: u32, ndims: usize) -> Result<()> {
    let [zero_a, zero_b, dtype, found_ndims] = magic.to_be_bytes();
    let expected = u32::from_be_bytes([0, 0, UNSIGNED_BYTE, ndims as u8]);
    let problem = if [zero_a, zero_b] != [0, 0] {
        "its first two bytes must be zero; this is not an IDX file".to_string()
    } else if dtype != UNSIGNED_BYTE {
        let name = type_name(dtype);
        format!("data type 0x{dtype:02x} ({name}) is not supported, only 0x08 (unsigned byte)")
    } else if usize::from(found_ndims) != ndims {
        let (found, wanted) = (dims_kind(found_ndims.into()), dims_kind(ndims));
        format!("the file has {found}, expected {wanted}")
    } else {
        return Ok(());
    };
    let message = format!("wrong magic number: expected 0x{expected:08x}, found 0x{magic:08x}: ");
    Err(source.format(message + &problem))
}

/// The name the IDX format gives a type byte.
fn type_name(dtype: u8) -> &'static str {
    match dtype {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0b => "short",
        0x0c => "int",
        0x0d => "float",
        0x0e => "double",
        _ => "not an IDX type",
    }
}

/// A number of dimensions in words, naming the file kind it belongs to.
fn dims_kind(ndims: usize) -> String {
    match ndims {
        1 => "1 dimension (a label file)".into(),
        3 => "3 dimensions (an image file)".into(),
        n => format!("{n} dimensions"),
    }
}

/// Reads the data after the header, which must be exactly the product of `dims` bytes.
fn read_data(source: &mut Source, dims: &[usize], noun: &str) -> Result<Vec<u8>> {
    let expected = data_len(source, dims)?;
    let claim = describe_claim(dims, expected, noun);
    if let Some(file_len) = source.plain_len {
        let after = file_len.saturating_sub(4 + 4 * dims.len() as u64);
        if after != expected as u64 {
            return Err(length_error(source, &claim, after.to_string()));
        }
    }
    let data = read_bounded(source, expected)?;
    match data.len().cmp(&expected) {
        Ordering::Equal => Ok(data),
        Ordering::Less => Err(length_error(source, &claim, data.len().to_string())),
        Ordering::Greater => Err(length_error(
            source,
            &claim,
            format!("more than {expected}"),
        )),
    }
}

/// "header says 2 x 3 x 2 = 12 bytes of pixels, file has 7 after the header".
fn length_error(source: &Source, claim: &str, found: String) -> Error {
    let what = match source.plain_len {
        Some(_) => "file",
        None => "decompressed data",
    };
    source.format(format!("{claim}, {what} has {found} after the header"))
}

/// Reads at most `expected + 1` bytes. It allocates for `expected` at once only when the
/// stored data could hold that much: a plain file's length has been checked; a gzip stream
/// holds at most [`MAX_DEFLATE_RATIO`] bytes per stored byte.
fn read_bounded(source: &mut Source, expected: usize) -> Result<Vec<u8>> {
    let most = source.stored_len.saturating_mul(MAX_DEFLATE_RATIO);
    let capacity = expected.min(usize::try_from(most).unwrap_or(usize::MAX));
    let mut data = Vec::with_capacity(capacity);
    let limit = (expected as u64).saturating_add(1);
    let read = (&mut source.reader).take(limit).read_to_end(&mut data);
    read.map_err(|e| source.read_error(e))?;
    Ok(data)
}

/// The product of `dims`, or a format error when it overflows `usize`.
fn data_len(source: &Source, dims: &[usize]) -> Result<usize> {
    let product = dims
        .iter()
        .try_fold(1, |acc: usize, &dim| acc.checked_mul(dim));
    let dims = join_dims(dims);
    product.ok_or_else(|| source.format(format!("header dimensions {dims} overflow usize")))
}

/// "header says 60000 x 28 x 28 = 47040000 bytes of pixels".
fn describe_claim(dims: &[usize], expected: usize, noun: &str) -> String {
    match dims.len() {
        1 => format!("header says {expected} bytes of {noun}"),
        _ => format!(
            "header says {} = {expected} bytes of {noun}",
            join_dims(dims)
        ),
    }
}

/// "60000 x 28 x 28".
fn join_dims(dims: &[usize]) -> String {
    let dims: Vec<String> = dims.iter().map(usize::to_string).collect();
    dims.join(" x ")
}

/// Writes a plain IDX file of unsigned bytes.
fn write_idx(path: &Path, dims: &[usize], data: &[u8]) -> Result<()> {
    let header = encode_header(path, dims)?;
    let mut file = File::create(path).map_err(|e| Error::io(path, e))?;
    let written = file.write_all(&header).and_then(|()| file.write_all(data));
    written.map_err(|e| Error::io(path, e))
}

/// The magic number and dimension sizes of an unsigned-byte IDX file.
fn encode_header(path: &Path, dims: &[usize]) -> Result<Vec<u8>> {
    let mut header = vec![0, 0, UNSIGNED_BYTE, dims.len() as u8];
    for &dim in dims {
        let size = u32::try_from(dim).map_err(|_| {
            Error::format(
                path,
                format!("cannot write: dimension {dim} exceeds u32::MAX"),
            )
        })?;
        header.extend_from_slice(&size.to_be_bytes());
    }
    Ok(header)
}

/// The images and labels of one half (`train` or `t10k`) of an MNIST folder, checked.
struct Half {
    images_path: PathBuf,
    images: IdxImages,
    labels: Vec<u8>,
}

impl Half {
    /// Reads `{prefix}-images-idx3-ubyte` and `{prefix}-labels-idx1-ubyte` from `dir`.
    fn load(dir: &Path, prefix: &str, num_classes: usize) -> Result<Self> {
        let images_path = find_file(dir, &format!("{prefix}-images-idx3-ubyte"))?;
        let labels_path = find_file(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
        let images = read_images(&images_path)?;
        let labels = read_labels(&labels_path)?;
        if labels.len() != images.count {
            let (count, images_path) = (images.count, images_path.display());
            let message = format!(
                "has {} labels but {images_path} has {count} images",
                labels.len()
            );
            return Err(Error::format(labels_path, message));
        }
        check_label_range(&labels_path, &labels, num_classes)?;
        Ok(Self {
            images_path,
            images,
            labels,
        })
    }

    /// The checked half as a dataset of `(count, 1, rows, cols)` images.
    fn into_dataset(self, class_names: Vec<String>, device: &Device) -> Result<Dataset> {
        let dims = [self.images.count, 1, self.images.rows, self.images.cols];
        let labels = self.labels.iter().map(|&l| u32::from(l)).collect();
        Dataset::from_bytes(&self.images.pixels, dims, labels, class_names, device)
    }
}

/// `dir/name` when it exists, else `dir/name.gz`, else a not-found error naming both.
fn find_file(dir: &Path, name: &str) -> Result<PathBuf> {
    let plain = dir.join(name);
    let gzip = dir.join(format!("{name}.gz"));
    if plain.is_file() {
        return Ok(plain);
    }
    if gzip.is_file() {
        return Ok(gzip);
    }
    let message = format!("neither {name} nor {name}.gz exists in {}", dir.display());
    Err(Error::io(
        plain,
        io::Error::new(io::ErrorKind::NotFound, message),
    ))
}

/// Checks every label is below `num_classes`, naming the first that is not.
fn check_label_range(path: &Path, labels: &[u8], num_classes: usize) -> Result<()> {
    let mut labels = labels.iter().enumerate();
    match labels.find(|&(_, &label)| usize::from(label) >= num_classes) {
        None => Ok(()),
        Some((index, label)) => {
            let problem = format!("label {label} at index {index} is not below {num_classes}");
            Err(Error::format(path, problem + ", the number of classes"))
        }
    }
}

/// Checks the test images have the height and width of the training images.
fn check_same_size(train: &Half, test: &Half) -> Result<()> {
    let size = |split: &Half| (split.images.rows, split.images.cols);
    let ((train_rows, train_cols), (test_rows, test_cols)) = (size(train), size(test));
    if (train_rows, train_cols) == (test_rows, test_cols) {
        return Ok(());
    }
    let train_path = train.images_path.display();
    let message = format!(
        "images are {test_rows} x {test_cols} (rows x cols) \
         but the training images in {train_path} are {train_rows} x {train_cols}"
    );
    Err(Error::format(&test.images_path, message))
}
