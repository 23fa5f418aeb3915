//! Every reader on real data: full Fashion-MNIST (Debian's `dataset-fashion-mnist`), the
//! bundled MNIST digits, and real CIFAR-10 images written out as an image folder.

use std::fs;
use std::path::{Path, PathBuf};

use acgan::data::folder::{load_image_folder, ImageFolderConfig};
use acgan::data::idx::{load_fashion_mnist, load_split, DIGIT_CLASSES};
use acgan::data::Dataset;
use candle_core::Device;
use image::codecs::jpeg::JpegEncoder;
use image::RgbImage;

/// Where Debian's `dataset-fashion-mnist` package installs the four files.
const FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

fn manifest(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("acgan-real-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn check_range(data: &Dataset) {
    let min = data.images().min_all().unwrap().to_scalar::<f32>().unwrap();
    let max = data.images().max_all().unwrap().to_scalar::<f32>().unwrap();
    assert!(
        (-1.0..=1.0).contains(&min) && (-1.0..=1.0).contains(&max),
        "{min} {max}"
    );
}

#[test]
fn full_fashion_mnist_loads_with_its_class_counts() {
    let marker = Path::new(FASHION_MNIST).join("t10k-labels-idx1-ubyte.gz");
    assert!(
        marker.is_file(),
        "{} is missing: install Fashion-MNIST with \
         `apt-get install dataset-fashion-mnist` (Debian), as .ci/run does",
        marker.display()
    );
    let data = load_fashion_mnist(FASHION_MNIST, &Device::Cpu).unwrap();
    assert_eq!(data.train.images().dims(), &[60_000, 1, 28, 28]);
    assert_eq!(data.test.images().dims(), &[10_000, 1, 28, 28]);
    // Fashion-MNIST's paper and README: 6,000 training and 1,000 test images per class.
    assert_eq!(data.train.class_counts().unwrap(), vec![6_000; 10]);
    assert_eq!(data.test.class_counts().unwrap(), vec![1_000; 10]);
    assert_eq!(data.train.class_names()[0], "T-shirt/top");
    assert_eq!(data.test.class_names()[9], "Ankle boot");
    check_range(&data.train);
    check_range(&data.test);
}

#[test]
fn bundled_mnist_loads_as_a_split() {
    let data = load_split(manifest("data/mnist-5k"), &DIGIT_CLASSES, &Device::Cpu).unwrap();
    // data/mnist-5k/SOURCE.md: 400 training and 100 test images per digit.
    assert_eq!(data.train.class_counts().unwrap(), vec![400; 10]);
    assert_eq!(data.test.class_counts().unwrap(), vec![100; 10]);
    assert_eq!(data.train.class_names()[7], "7");
    check_range(&data.train);
}

/// The first `count` records of the bundled CIFAR-10 test batch, straight from the file:
/// (label, pixels in R, G, B planes).
fn raw_cifar(count: usize) -> Vec<(u8, Vec<u8>)> {
    let bytes = fs::read(manifest("data/cifar10-sample/test_batch.bin")).unwrap();
    let records = bytes.chunks_exact(3073).take(count);
    records.map(|r| (r[0], r[1..].to_vec())).collect()
}

/// The planar record as an RGB image of the `image` crate.
fn to_rgb(planes: &[u8]) -> RgbImage {
    RgbImage::from_fn(32, 32, |x, y| {
        let at = (y * 32 + x) as usize;
        image::Rgb([planes[at], planes[1024 + at], planes[2048 + at]])
    })
}

/// Writes `records` as `root/<class name>/<index>.<extension>`. CIFAR-10's names are in
/// alphabetical order already, so folder order gives back the original labels.
fn write_folder(root: &Path, records: &[(u8, Vec<u8>)], jpeg: bool) {
    let names = ["airplane", "automobile", "bird", "cat", "deer"];
    let names = [&names[..], &["dog", "frog", "horse", "ship", "truck"]].concat();
    for (i, (label, planes)) in records.iter().enumerate() {
        let dir = root.join(names[*label as usize]);
        fs::create_dir_all(&dir).unwrap();
        let image = to_rgb(planes);
        if jpeg {
            let file = fs::File::create(dir.join(format!("{i:04}.jpg"))).unwrap();
            JpegEncoder::new_with_quality(file, 95)
                .encode_image(&image)
                .unwrap();
        } else {
            image.save(dir.join(format!("{i:04}.png"))).unwrap();
        }
    }
}

/// The records sorted as the folder reader visits them: by label, then by index.
fn in_folder_order(records: &[(u8, Vec<u8>)]) -> Vec<(u8, Vec<u8>)> {
    let mut sorted = records.to_vec();
    sorted.sort_by_key(|(label, _)| *label);
    sorted
}

/// The loaded images back in 0..=255, image after image.
fn loaded_bytes(data: &Dataset) -> Vec<f32> {
    let values = data
        .images()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    values.iter().map(|v| (v + 1.0) * 127.5).collect()
}

#[test]
fn real_cifar_images_as_png_folder_load_exactly() {
    let records = raw_cifar(40);
    let root = temp_dir("png");
    write_folder(&root, &records, false);
    let config = ImageFolderConfig::default();
    let data = load_image_folder(&root, &config, &Device::Cpu)
        .unwrap()
        .dataset;
    let expected = in_folder_order(&records);
    let labels: Vec<u32> = expected.iter().map(|(l, _)| u32::from(*l)).collect();
    assert_eq!(data.labels().to_vec1::<u32>().unwrap(), labels);
    let pixels: Vec<u8> = expected.iter().flat_map(|(_, p)| p.clone()).collect();
    let found = loaded_bytes(&data);
    assert_eq!(found.len(), pixels.len());
    for (i, (&f, &p)) in found.iter().zip(&pixels).enumerate() {
        assert!((f - f32::from(p)).abs() < 1e-3, "byte {i}: {f} vs {p}");
    }
}

#[test]
fn real_cifar_images_as_jpeg_folder_load_closely() {
    let records = raw_cifar(40);
    let root = temp_dir("jpeg");
    write_folder(&root, &records, true);
    let data = load_image_folder(&root, &ImageFolderConfig::default(), &Device::Cpu)
        .unwrap()
        .dataset;
    let expected = in_folder_order(&records);
    let found = loaded_bytes(&data);
    for (i, (_, planes)) in expected.iter().enumerate() {
        let image = &found[i * 3072..(i + 1) * 3072];
        let mse: f32 = image
            .iter()
            .zip(planes)
            .map(|(&f, &p)| (f - f32::from(p)).powi(2))
            .sum::<f32>()
            / 3072.0;
        // JPEG at quality 95 keeps these photos above 30 dB of the originals.
        let psnr = 10.0 * (255.0f32 * 255.0 / mse).log10();
        assert!(psnr > 30.0, "image {i}: PSNR {psnr:.1} dB");
    }
}
