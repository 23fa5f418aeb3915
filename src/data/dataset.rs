//! [`Dataset`]: labelled images as tensors, with seeded batching and class subsets.

use candle_core::{DType, Device, Tensor};
use rand::seq::SliceRandom;

use crate::{check, Error, Result};

/// Mixes the epoch number into the seed of the epoch's shuffle (the 64-bit golden ratio).
const EPOCH_MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// Labelled images on one device, the form every reader in [`crate::data`] returns.
///
/// # Shapes
/// - images: `(n, channels, height, width)` f32 in [-1, 1]
/// - labels: `(n,)` u32, each below the number of class names
#[derive(Debug, Clone)]
pub struct Dataset {
    images: Tensor,
    labels: Tensor,
    class_names: Vec<String>,
}

/// A training set and a test set of the same image size and classes.
#[derive(Debug, Clone)]
pub struct Split {
    /// Images to train on.
    pub train: Dataset,
    /// Images held out for evaluation.
    pub test: Dataset,
}

/// What to do with the last batch of an epoch when the images do not divide evenly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LastBatch {
    /// Leave the remaining images out of this epoch, so every batch has the same size.
    #[default]
    Drop,
    /// Yield the remaining images as one smaller batch.
    Keep,
}

/// How a [`Dataset`] is cut into batches.
///
/// Epoch `e` visits the images in an order drawn from `(seed, e)` alone, so a run resumed
/// at any step sees the batches an uninterrupted run would have seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// Images per batch.
    pub batch_size: usize,
    /// Seeds the order of every epoch.
    pub seed: u64,
    /// Whether an epoch's last, smaller batch is kept.
    pub last: LastBatch,
}

impl Default for Batching {
    /// Batches of 64 (the paper's size), seed 0, last partial batch dropped.
    fn default() -> Self {
        Self {
            batch_size: 64,
            seed: 0,
            last: LastBatch::Drop,
        }
    }
}

/// How the labels of a [`Dataset::subset`] relate to the labels of the full dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassMapping {
    original: Vec<u32>,
}

impl ClassMapping {
    /// The original label of each new label: new label `k` was `originals()[k]`.
    pub fn originals(&self) -> &[u32] {
        &self.original
    }

    /// The original label of new label `new`, or `None` when `new` is not below the
    /// number of kept classes.
    pub fn original(&self, new: u32) -> Option<u32> {
        self.original.get(new as usize).copied()
    }

    /// The new label of original label `original`, or `None` when that class was left out.
    pub fn new_label(&self, original: u32) -> Option<u32> {
        let position = self.original.iter().position(|&o| o == original)?;
        Some(position as u32)
    }
}

impl Dataset {
    /// Checks and wraps images, labels and class names.
    ///
    /// # Shapes
    /// - `images`: `(n, channels, height, width)` f32
    /// - `labels`: `(n,)` u32 on the same device
    ///
    /// # Errors
    /// [`Error::Shape`] when a tensor has the wrong rank, dtype or length;
    /// [`Error::LabelOutOfRange`] when a label is not below `class_names.len()`.
    pub fn new(images: Tensor, labels: Tensor, class_names: Vec<String>) -> Result<Self> {
        let n = match *images.dims() {
            [n, _, _, _] if images.dtype() == DType::F32 => n,
            _ => {
                return Err(shape_error(
                    "Dataset::new images",
                    "(n, c, h, w) f32",
                    &images,
                ))
            }
        };
        check::labels("Dataset::new labels", &labels, n, class_names.len())?;
        let labels = labels.to_device(images.device())?;
        Ok(Self {
            images,
            labels,
            class_names,
        })
    }

    /// Builds a dataset from u8 pixels laid out as `(n, channels, height, width)`, each
    /// `p` becoming `p / 127.5 - 1`. Callers have checked every length and label.
    pub(crate) fn from_bytes(
        pixels: &[u8],
        dims: [usize; 4],
        labels: Vec<u32>,
        class_names: Vec<String>,
        device: &Device,
    ) -> Result<Self> {
        let images = Tensor::from_vec(to_unit_range(pixels), dims.to_vec(), device)?;
        let labels = Tensor::from_vec(labels, dims[0], device)?;
        Ok(Self {
            images,
            labels,
            class_names,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.dims()[0]
    }

    /// Whether the dataset holds no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All images, `(n, channels, height, width)` f32 in [-1, 1].
    pub fn images(&self) -> &Tensor {
        &self.images
    }

    /// All labels, `(n,)` u32.
    pub fn labels(&self) -> &Tensor {
        &self.labels
    }

    /// The name of each class, in label order.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Number of classes (of names), whether or not every class has images.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// `(channels, height, width)` of every image.
    pub fn image_dims(&self) -> (usize, usize, usize) {
        let dims = self.images.dims();
        (dims[1], dims[2], dims[3])
    }

    /// The device the tensors live on.
    pub fn device(&self) -> &Device {
        self.images.device()
    }

    /// The same dataset on `device`.
    ///
    /// # Errors
    /// [`Error::Candle`] when the copy fails.
    pub fn to_device(&self, device: &Device) -> Result<Self> {
        Ok(Self {
            images: self.images.to_device(device)?,
            labels: self.labels.to_device(device)?,
            class_names: self.class_names.clone(),
        })
    }

    /// The same dataset with every image's rows and columns swapped, `(n, c, h, w)` becoming
    /// `(n, c, w, h)`: the fix for formats that store images column after column (EMNIST).
    ///
    /// # Errors
    /// [`Error::Candle`] when the copy fails.
    pub fn transpose_images(&self) -> Result<Self> {
        Ok(Self {
            images: self.images.transpose(2, 3)?.contiguous()?,
            labels: self.labels.clone(),
            class_names: self.class_names.clone(),
        })
    }

    /// How many images each class has, in label order.
    ///
    /// # Errors
    /// [`Error::Candle`] when the labels cannot be read back from the device.
    pub fn class_counts(&self) -> Result<Vec<usize>> {
        let mut counts = vec![0; self.num_classes()];
        for label in self.labels.to_vec1::<u32>()? {
            if let Some(count) = counts.get_mut(label as usize) {
                *count += 1;
            }
        }
        Ok(counts)
    }

    /// The order in which epoch `epoch` visits the images: a permutation of `0..n` drawn
    /// from `(seed, epoch)` alone.
    pub fn epoch_order(&self, seed: u64, epoch: u64) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.len() as u32).collect();
        let mut rng = crate::rng::seeded(seed ^ epoch.wrapping_mul(EPOCH_MIX));
        order.shuffle(&mut rng);
        order
    }

    /// Number of batches in one epoch: `n / batch_size`, rounded up when the last partial
    /// batch is kept. Zero when `batch_size` is zero.
    pub fn batches_per_epoch(&self, batching: &Batching) -> usize {
        match (batching.batch_size, batching.last) {
            (0, _) => 0,
            (size, LastBatch::Drop) => self.len() / size,
            (size, LastBatch::Keep) => self.len().div_ceil(size),
        }
    }

    /// The batches of epoch `epoch`, in the order [`Dataset::epoch_order`] gives.
    ///
    /// # Errors
    /// [`Error::Config`] when an epoch would hold no batch (a batch size of zero, or fewer
    /// images than one batch when the last partial batch is dropped).
    pub fn epoch(&self, batching: &Batching, epoch: u64) -> Result<Batches<'_>> {
        self.check_batching(batching)?;
        Ok(Batches {
            dataset: self,
            order: self.epoch_order(batching.seed, epoch),
            batch_size: batching.batch_size,
            count: self.batches_per_epoch(batching),
            next: 0,
        })
    }

    /// The batch a training loop takes at step `step` (counted from 0 across epochs):
    /// batch `step % b` of epoch `step / b`, with `b` batches per epoch.
    ///
    /// # Shapes
    /// - returns images `(batch, channels, height, width)` and labels `(batch,)`
    ///
    /// # Errors
    /// As [`Dataset::epoch`].
    pub fn batch_at_step(&self, batching: &Batching, step: u64) -> Result<(Tensor, Tensor)> {
        self.check_batching(batching)?;
        let per_epoch = self.batches_per_epoch(batching) as u64;
        let (epoch, index) = (step / per_epoch, (step % per_epoch) as usize);
        let order = self.epoch_order(batching.seed, epoch);
        self.gather(batch_slice(&order, batching.batch_size, index))
    }

    /// The images and labels at `indices`, in that order.
    ///
    /// # Shapes
    /// - returns images `(indices.len(), channels, height, width)` and labels
    ///   `(indices.len(),)`
    ///
    /// # Errors
    /// [`Error::Candle`] when an index is not below `n`.
    pub fn gather(&self, indices: &[u32]) -> Result<(Tensor, Tensor)> {
        let picks = Tensor::new(indices, self.device())?;
        let images = self.images.index_select(&picks, 0)?;
        Ok((images, self.labels.index_select(&picks, 0)?))
    }

    /// The images of `classes` only, relabelled `0..classes.len()` in the order given, with
    /// the mapping back to the original labels. Class names follow their classes.
    ///
    /// # Errors
    /// [`Error::Config`] when `classes` is empty, repeats a class or names one that is not
    /// below [`Dataset::num_classes`].
    pub fn subset(&self, classes: &[u32]) -> Result<(Dataset, ClassMapping)> {
        check_classes(classes, self.num_classes())?;
        let mapping = ClassMapping {
            original: classes.to_vec(),
        };
        let (indices, labels) = self.kept(&mapping)?;
        let picks = Tensor::new(indices.as_slice(), self.device())?;
        let dataset = Dataset {
            images: self.images.index_select(&picks, 0)?,
            labels: Tensor::new(labels.as_slice(), self.device())?,
            class_names: classes
                .iter()
                .map(|&c| self.class_names[c as usize].clone())
                .collect(),
        };
        Ok((dataset, mapping))
    }

    /// The indices of the images `mapping` keeps, and their new labels.
    fn kept(&self, mapping: &ClassMapping) -> Result<(Vec<u32>, Vec<u32>)> {
        let labels = self.labels.to_vec1::<u32>()?;
        let kept = labels.iter().enumerate().filter_map(|(i, &label)| {
            let new = mapping.new_label(label)?;
            Some((i as u32, new))
        });
        Ok(kept.unzip())
    }

    /// Checks an epoch of `batching` holds at least one batch.
    fn check_batching(&self, batching: &Batching) -> Result<()> {
        if self.batches_per_epoch(batching) > 0 {
            return Ok(());
        }
        let message = format!(
            "an epoch of {} images holds no batch of {} ({:?} last batch)",
            self.len(),
            batching.batch_size,
            batching.last
        );
        Err(Error::config("Batching", message))
    }
}

impl Split {
    /// Keeps the same classes in both halves; see [`Dataset::subset`].
    ///
    /// # Errors
    /// As [`Dataset::subset`].
    pub fn subset(&self, classes: &[u32]) -> Result<(Split, ClassMapping)> {
        let (train, mapping) = self.train.subset(classes)?;
        let (test, _) = self.test.subset(classes)?;
        Ok((Split { train, test }, mapping))
    }
}

/// The batches of one epoch; see [`Dataset::epoch`].
///
/// Each item is images `(batch, channels, height, width)` and labels `(batch,)`.
#[derive(Debug)]
pub struct Batches<'a> {
    dataset: &'a Dataset,
    order: Vec<u32>,
    batch_size: usize,
    count: usize,
    next: usize,
}

impl Iterator for Batches<'_> {
    type Item = Result<(Tensor, Tensor)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.count {
            return None;
        }
        let indices = batch_slice(&self.order, self.batch_size, self.next);
        self.next += 1;
        Some(self.dataset.gather(indices))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.count - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches<'_> {}

/// Batch `index` of `order`: `size` indices, fewer for a kept last batch.
fn batch_slice(order: &[u32], size: usize, index: usize) -> &[u32] {
    let start = index * size;
    &order[start..(start + size).min(order.len())]
}

/// Checks `classes` is non-empty, without repeats, and below `num_classes`.
fn check_classes(classes: &[u32], num_classes: usize) -> Result<()> {
    let fail = |message: String| Err(Error::config("Dataset::subset", message));
    if classes.is_empty() {
        return fail("the list of classes to keep is empty".into());
    }
    if let Some(&bad) = classes.iter().find(|&&c| c as usize >= num_classes) {
        return fail(format!(
            "class {bad} is not below {num_classes}, the number of classes"
        ));
    }
    for (i, class) in classes.iter().enumerate() {
        if classes[..i].contains(class) {
            return fail(format!("class {class} is listed twice in {classes:?}"));
        }
    }
    Ok(())
}

/// Pixels converted per thread at least: below this, threads cost more than they save.
const PIXELS_PER_THREAD: usize = 1 << 20;

/// Pixel `p` in 0..=255 to `p / 127.5 - 1` in [-1, 1], on all cores for large inputs.
pub(crate) fn to_unit_range(pixels: &[u8]) -> Vec<f32> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = pixels.len().div_ceil(threads).max(PIXELS_PER_THREAD);
    let mut values = vec![0.0; pixels.len()];
    if pixels.len() <= chunk {
        convert(pixels, &mut values);
        return values;
    }
    std::thread::scope(|scope| {
        for (out, inp) in values.chunks_mut(chunk).zip(pixels.chunks(chunk)) {
            scope.spawn(move || convert(inp, out));
        }
    });
    values
}

/// Fills `out` with `p / 127.5 - 1` for each pixel `p` of `pixels`.
fn convert(pixels: &[u8], out: &mut [f32]) {
    for (value, &p) in out.iter_mut().zip(pixels) {
        *value = f32::from(p) / 127.5 - 1.0;
    }
}

/// Runs `a` here and `b` on a second thread at the same time, and returns both results.
pub(crate) fn join<A, B: Send>(a: impl FnOnce() -> A, b: impl FnOnce() -> B + Send) -> (A, B) {
    std::thread::scope(|scope| {
        let second = scope.spawn(b);
        let first = a();
        match second.join() {
            Ok(second) => (first, second),
            Err(payload) => std::panic::resume_unwind(payload),
        }
    })
}

fn shape_error(argument: &str, expected: &str, t: &Tensor) -> Error {
    Error::Shape {
        argument: argument.into(),
        expected: expected.into(),
        found: t.dims().to_vec(),
        dtype: t.dtype(),
    }
}
