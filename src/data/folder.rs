//! Image folders: one sub-folder per class, holding PNG or JPEG files.
//!
//! ```text
//! root/
//!   cat/  0001.png  0002.jpg ...
//!   dog/  a.jpeg ...
//! ```
//!
//! Classes are the sub-folders in sorted name order (byte order of their names), so `cat`
//! is label 0 and `dog` label 1. Within a class, files are read in sorted name order. Only
//! files ending in `.png`, `.jpg` or `.jpeg` (any case) count as images; other files, hidden
//! entries (names starting with `.`) and deeper folders are ignored. The file's content, not
//! its name, decides how it is decoded.
//!
//! Every image is converted to the configured channels (grey uses the Rec. 709 weights of
//! the `image` crate; alpha is dropped) and resized with a bilinear (triangle) filter to the
//! configured size when it has another size. An image already of that size is used as is.

use std::fs;
use std::path::{Path, PathBuf};

use candle_core::Device;
use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageBuffer, ImageReader, Pixel};

use crate::data::Dataset;
use crate::{Error, Result};

/// Largest height or width accepted, so that sizes fit the `image` crate's `u32`.
const MAX_SIDE: usize = 65_535;
/// File name endings read as images, compared in lower case.
const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// What to do with a file that cannot be read or decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Stop and return the error, which names the file.
    #[default]
    Fail,
    /// Leave the file out and list it in [`ImageFolder::skipped`].
    Skip,
}

/// How [`load_image_folder`] reads and resizes images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageFolderConfig {
    /// Height every image is resized to.
    pub height: usize,
    /// Width every image is resized to.
    pub width: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Whether an unreadable file stops the load or is skipped.
    pub on_error: OnError,
}

impl Default for ImageFolderConfig {
    /// 32 x 32 RGB, the size of the CIFAR presets; unreadable files are errors.
    fn default() -> Self {
        Self {
            height: 32,
            width: 32,
            channels: 3,
            on_error: OnError::Fail,
        }
    }
}

impl ImageFolderConfig {
    /// Checks the channels are 1 or 3 and the sides are between 1 and 65,535.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field that is out of range.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(Error::config("ImageFolderConfig", m));
        if self.channels != 1 && self.channels != 3 {
            return fail(format!("channels must be 1 or 3, found {}", self.channels));
        }
        let sides = (self.height, self.width);
        if !(1..=MAX_SIDE).contains(&sides.0) || !(1..=MAX_SIDE).contains(&sides.1) {
            return fail(format!(
                "height and width must be in 1..={MAX_SIDE}, found {sides:?}"
            ));
        }
        Ok(())
    }
}

/// A file left out by [`OnError::Skip`], and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFile {
    /// The file.
    pub path: PathBuf,
    /// What went wrong when reading or decoding it.
    pub reason: String,
}

/// What [`load_image_folder`] returns: the images, and the files it skipped.
#[derive(Debug, Clone)]
pub struct ImageFolder {
    /// The images, labelled by class folder; class names are the folder names.
    pub dataset: Dataset,
    /// Files that could not be read, in the order met; empty with [`OnError::Fail`].
    pub skipped: Vec<SkippedFile>,
}

/// Loads every image under `root`, one class per sub-folder; see the [module docs](self).
///
/// # Shapes
/// - images: `(n, channels, height, width)` f32 in [-1, 1], channels R, G, B or grey;
///   labels `(n,)` u32
///
/// # Errors
/// [`Error::Config`] when `config` is invalid; [`Error::Io`] when `root` or a class folder
/// cannot be listed; [`Error::Format`] when `root` has no class folder, a class folder has
/// no readable image, or (with [`OnError::Fail`]) an image cannot be decoded. Each names
/// the folder or file concerned.
///
/// # Example
/// ```no_run
/// use acgan::data::folder::{load_image_folder, ImageFolderConfig, OnError};
///
/// let config = ImageFolderConfig { on_error: OnError::Skip, ..Default::default() };
/// let loaded = load_image_folder("my-photos", &config, &candle_core::Device::Cpu)?;
/// assert_eq!(loaded.dataset.image_dims(), (3, 32, 32));
/// for file in &loaded.skipped {
///     eprintln!("skipped {}: {}", file.path.display(), file.reason);
/// }
/// # Ok::<(), acgan::Error>(())
/// ```
pub fn load_image_folder(
    root: impl AsRef<Path>,
    config: &ImageFolderConfig,
    device: &Device,
) -> Result<ImageFolder> {
    config.validate()?;
    let classes = class_folders(root.as_ref())?;
    let mut loaded = Loaded::default();
    for (label, (_, dir)) in classes.iter().enumerate() {
        loaded.read_class(dir, label as u32, config)?;
    }
    let dims = [
        loaded.labels.len(),
        config.channels,
        config.height,
        config.width,
    ];
    let names = classes.into_iter().map(|(name, _)| name).collect();
    let dataset = Dataset::from_bytes(&loaded.pixels, dims, loaded.labels, names, device)?;
    Ok(ImageFolder {
        dataset,
        skipped: loaded.skipped,
    })
}

/// The images read so far, planar u8, with their labels and the files skipped.
#[derive(Default)]
struct Loaded {
    pixels: Vec<u8>,
    labels: Vec<u32>,
    skipped: Vec<SkippedFile>,
}

impl Loaded {
    /// Reads the images of one class folder; fails when none of them is readable.
    fn read_class(&mut self, dir: &Path, label: u32, config: &ImageFolderConfig) -> Result<()> {
        let files = image_files(dir)?;
        let before = self.labels.len();
        for path in &files {
            match decode(path, config) {
                Ok(pixels) => {
                    self.pixels.extend_from_slice(&pixels);
                    self.labels.push(label);
                }
                Err(err) if config.on_error == OnError::Skip => self.skip(path, err),
                Err(err) => return Err(err),
            }
        }
        if self.labels.len() > before {
            return Ok(());
        }
        Err(Error::format(dir, self.no_image_message(files.len())))
    }

    /// Why a class folder with `found` image files yielded no image.
    fn no_image_message(&self, found: usize) -> String {
        let Some(last) = self.skipped.last().filter(|_| found > 0) else {
            return "class folder has no readable image: no .png, .jpg or .jpeg file".into();
        };
        format!(
            "class folder has no readable image: all {found} image files were skipped \
             (the last, {}: {})",
            last.path.display(),
            last.reason
        )
    }

    /// Records that `path` was left out because of `err`.
    fn skip(&mut self, path: &Path, err: Error) {
        let reason = match err {
            Error::Io { source, .. } => source.to_string(),
            Error::Format { message, .. } => message,
            other => other.to_string(),
        };
        let path = path.to_path_buf();
        self.skipped.push(SkippedFile { path, reason });
    }
}

/// The class folders of `root` as `(name, path)`, sorted by name.
fn class_folders(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut classes: Vec<(String, PathBuf)> = visible_entries(root)?
        .into_iter()
        .filter(|(_, path)| path.is_dir())
        .collect();
    if classes.is_empty() {
        let message = "no class folder found: expected root/<class name>/<image files>";
        return Err(Error::format(root, message));
    }
    classes.sort();
    Ok(classes)
}

/// The image files of a class folder, sorted by name.
fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = visible_entries(dir)?
        .into_iter()
        .filter(|(name, path)| has_image_extension(name) && path.is_file())
        .map(|(_, path)| path)
        .collect();
    files.sort();
    Ok(files)
}

/// The entries of `dir` whose names do not start with `.`, as `(name, path)`.
fn visible_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let io_err = |e| Error::io(dir, e);
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            entries.push((name, entry.path()));
        }
    }
    Ok(entries)
}

/// Whether `name` ends in one of [`EXTENSIONS`], in any case.
fn has_image_extension(name: &str) -> bool {
    let extension = Path::new(name).extension().and_then(|e| e.to_str());
    extension.is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Decodes `path` into `channels * height * width` planar bytes of the configured size.
fn decode(path: &Path, config: &ImageFolderConfig) -> Result<Vec<u8>> {
    let io_err = |e| Error::io(path, e);
    let reader = ImageReader::open(path).map_err(io_err)?;
    let reader = reader.with_guessed_format().map_err(io_err)?;
    let image = reader
        .decode()
        .map_err(|e| Error::format(path, format!("cannot decode image: {e}")))?;
    Ok(planar(image, config))
}

/// `image` resized and converted to planar bytes: one plane per channel.
fn planar(image: DynamicImage, config: &ImageFolderConfig) -> Vec<u8> {
    let (width, height) = (config.width as u32, config.height as u32);
    if config.channels == 1 {
        return resized(image.to_luma8(), width, height).into_raw();
    }
    let interleaved = resized(image.to_rgb8(), width, height).into_raw();
    let plane = interleaved.len() / 3;
    let mut planes = vec![0; interleaved.len()];
    for (i, rgb) in interleaved.chunks_exact(3).enumerate() {
        for (channel, &value) in rgb.iter().enumerate() {
            planes[channel * plane + i] = value;
        }
    }
    planes
}

/// `image` at `width x height`, untouched when it already is.
fn resized<P: Pixel<Subpixel = u8> + 'static>(
    image: ImageBuffer<P, Vec<u8>>,
    width: u32,
    height: u32,
) -> ImageBuffer<P, Vec<u8>> {
    if image.dimensions() == (width, height) {
        return image;
    }
    imageops::resize(&image, width, height, FilterType::Triangle)
}
