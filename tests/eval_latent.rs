//! Latent walks, class-swap grids and nearest training images. Expected values are worked out
//! by hand in the comments, or by a brute-force loop written here independently of the crate.

use acgan::eval::latent::{
    class_swap, interpolate, interpolation_grid, nearest_neighbours, side_by_side, Interpolation,
};
use acgan::init::SeededInit;
use acgan::{Error, Generator, GeneratorConfig};
use candle_core::{Device, IndexOp, Tensor};
use candle_nn::VarMap;

const CPU: Device = Device::Cpu;

fn rows(t: &Tensor) -> Vec<Vec<f32>> {
    t.to_vec2::<f32>().unwrap()
}

fn close(a: &[f32], b: &[f32], tolerance: f32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tolerance)
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

/// A small generator: 6-d noise, 5 classes, 8x8 grey images.
fn small_generator() -> Generator {
    let config = GeneratorConfig {
        latent_dim: 6,
        num_classes: 5,
        initial_size: 2,
        initial_channels: 4,
        channels: vec![3, 1],
        ..GeneratorConfig::mnist()
    };
    let vars = VarMap::new();
    Generator::new(&config, SeededInit::var_builder(&vars, 11, &CPU)).unwrap()
}

fn noise(g: &Generator, batch: usize, seed: u64) -> Tensor {
    g.sample_noise(batch, &mut acgan::rng::seeded(seed), &CPU)
        .unwrap()
}

/// Seeded uniform images in [-1, 1] of `(n, 1, side, side)`.
fn uniform_images(n: usize, side: usize, seed: u64) -> Tensor {
    use rand::Rng as _;
    let mut rng = acgan::rng::seeded(seed);
    let values: Vec<f32> = (0..n * side * side)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    Tensor::from_vec(values, (n, 1, side, side), &CPU).unwrap()
}

fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

#[test]
fn linear_walk_hits_both_ends_and_the_midpoint() {
    let z0 = Tensor::new(&[1.0f32, 2.0, -4.0], &CPU).unwrap();
    let z1 = Tensor::new(&[[3.0f32, -2.0, 0.0]], &CPU).unwrap();
    let walk = rows(&interpolate(&z0, &z1, 5, Interpolation::Linear).unwrap());
    // t = 0, 1/4, 1/2, 3/4, 1: (1 - t) z0 + t z1, exact in binary.
    assert_eq!(walk[0], [1.0, 2.0, -4.0]);
    assert_eq!(walk[1], [1.5, 1.0, -3.0]);
    assert_eq!(walk[2], [2.0, 0.0, -2.0]);
    assert_eq!(walk[3], [2.5, -1.0, -1.0]);
    assert_eq!(walk[4], [3.0, -2.0, 0.0]);
}

#[test]
fn slerp_of_orthogonal_unit_vectors_bisects_the_right_angle() {
    let a = Tensor::new(&[1.0f32, 0.0, 0.0], &CPU).unwrap();
    let b = Tensor::new(&[0.0f32, 1.0, 0.0], &CPU).unwrap();
    let walk = rows(&interpolate(&a, &b, 3, Interpolation::Spherical).unwrap());
    let half = std::f32::consts::FRAC_1_SQRT_2;
    assert!(close(&walk[1], &[half, half, 0.0], 1e-6), "{walk:?}");
    assert_eq!(walk[0], [1.0, 0.0, 0.0]);
    assert_eq!(walk[2], [0.0, 1.0, 0.0]);
    // A quarter of the way: (cos(pi/8), sin(pi/8), 0).
    let walk = rows(&interpolate(&a, &b, 5, Interpolation::Spherical).unwrap());
    let eighth = std::f32::consts::PI / 8.0;
    assert!(close(&walk[1], &[eighth.cos(), eighth.sin(), 0.0], 1e-6));
}

#[test]
fn slerp_keeps_the_norm_of_equal_norm_vectors() {
    // Norm 3 both, at 60 degrees: (3, 0, 0, 0) and (1.5, 3 sqrt(3) / 2, 0, 0).
    let a = Tensor::new(&[3.0f32, 0.0, 0.0, 0.0], &CPU).unwrap();
    let b = Tensor::new(&[1.5f32, 1.5 * 3f32.sqrt(), 0.0, 0.0], &CPU).unwrap();
    let walk = rows(&interpolate(&a, &b, 7, Interpolation::Spherical).unwrap());
    for point in &walk {
        assert!((norm(point) - 3.0).abs() < 1e-5, "{point:?}");
    }
    // Linear midpoints are shorter: |a + b| / 2 = 3 cos(30 degrees).
    let linear = rows(&interpolate(&a, &b, 3, Interpolation::Linear).unwrap());
    assert!((norm(&linear[1]) - 1.5 * 3f32.sqrt()).abs() < 1e-5);
}

#[test]
fn slerp_of_parallel_or_opposite_vectors_is_linear() {
    let a = Tensor::new(&[1.0f32, 2.0], &CPU).unwrap();
    for other in [[2.0f32, 4.0], [-1.0, -2.0], [0.0, 0.0]] {
        let b = Tensor::new(&other, &CPU).unwrap();
        let spherical = rows(&interpolate(&a, &b, 5, Interpolation::Spherical).unwrap());
        let linear = rows(&interpolate(&a, &b, 5, Interpolation::Linear).unwrap());
        assert_eq!(spherical, linear, "b = {other:?}");
    }
    // Opposite vectors meet at the origin half way.
    let b = Tensor::new(&[-1.0f32, -2.0], &CPU).unwrap();
    let walk = rows(&interpolate(&a, &b, 3, Interpolation::Spherical).unwrap());
    assert_eq!(walk[1], [0.0, 0.0]);
}

#[test]
fn interpolate_refuses_bad_arguments() {
    let a = Tensor::new(&[1.0f32, 2.0], &CPU).unwrap();
    let b3 = Tensor::new(&[1.0f32, 2.0, 3.0], &CPU).unwrap();
    let matrix = Tensor::zeros((2, 2), candle_core::DType::F32, &CPU).unwrap();
    let walk = |x: &Tensor, y: &Tensor, steps| interpolate(x, y, steps, Interpolation::Linear);
    assert!(matches!(walk(&a, &b3, 3), Err(Error::Shape { .. })));
    assert!(matches!(walk(&matrix, &a, 3), Err(Error::Shape { .. })));
    assert!(matches!(walk(&a, &a, 1), Err(Error::Config { .. })));
}

#[test]
fn class_swap_puts_class_r_in_row_r_and_noise_j_in_column_j() {
    let g = small_generator();
    let z = noise(&g, 3, 5);
    let classes = [4u32, 0, 2];
    let grid = class_swap(&g, &z, &classes).unwrap();
    assert_eq!(grid.dims(), &[9, 1, 8, 8]);
    for (r, &class) in classes.iter().enumerate() {
        for j in 0..3 {
            let label = Tensor::new(&[class], &CPU).unwrap();
            let direct = g
                .forward_t(&z.narrow(0, j, 1).unwrap(), &label, false)
                .unwrap();
            let cell = grid.i(r * 3 + j).unwrap();
            assert!(
                close(&flat(&cell), &flat(&direct), 1e-6),
                "row {r} column {j}"
            );
        }
    }
    // Different classes with the same noise give different images.
    assert!(!close(
        &flat(&grid.i(0).unwrap()),
        &flat(&grid.i(3).unwrap()),
        1e-6
    ));
}

#[test]
fn class_swap_refuses_bad_classes_and_noise() {
    let g = small_generator();
    let z = noise(&g, 2, 1);
    match class_swap(&g, &z, &[1, 5]) {
        Err(Error::LabelOutOfRange {
            label, num_classes, ..
        }) => assert_eq!((label, num_classes), (5, 5)),
        other => panic!("expected LabelOutOfRange, got {other:?}"),
    }
    assert!(matches!(class_swap(&g, &z, &[]), Err(Error::Config { .. })));
    let wide = Tensor::zeros((2, 7), candle_core::DType::F32, &CPU).unwrap();
    assert!(matches!(
        class_swap(&g, &wide, &[1]),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn interpolation_grid_rows_run_from_start_to_end_with_the_class_fixed() {
    let g = small_generator();
    let (start, end) = (noise(&g, 2, 3), noise(&g, 2, 4));
    let grid = interpolation_grid(&g, &start, &end, 3, 4, Interpolation::Spherical).unwrap();
    assert_eq!(grid.dims(), &[8, 1, 8, 8]);
    let label = Tensor::new(&[3u32], &CPU).unwrap();
    for r in 0..2 {
        let ends = [(0, &start), (3, &end)];
        for (column, z) in ends {
            let direct = g
                .forward_t(&z.narrow(0, r, 1).unwrap(), &label, false)
                .unwrap();
            let cell = grid.i(r * 4 + column).unwrap();
            assert!(
                close(&flat(&cell), &flat(&direct), 1e-6),
                "row {r} column {column}"
            );
        }
    }
    let bad = interpolation_grid(&g, &start, &end, 9, 4, Interpolation::Linear);
    assert!(matches!(bad, Err(Error::LabelOutOfRange { .. })));
    let short = noise(&g, 1, 4);
    let bad = interpolation_grid(&g, &start, &short, 1, 4, Interpolation::Linear);
    assert!(matches!(bad, Err(Error::Shape { .. })));
}

/// Four 1x2x2 training images and two samples, as rows of 4 pixels.
fn tiny_set() -> (Tensor, Tensor) {
    let training = [
        [0.0f32, 0.0, 0.0, 0.0],
        [1.0, 1.0, 1.0, 1.0],
        [0.5, -0.5, 0.5, -0.5],
        [1.0, 1.0, 1.0, 0.6],
    ];
    let samples = [[1.0f32, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, -0.2]];
    let as_images = |t: Tensor, n: usize| t.reshape((n, 1, 2, 2)).unwrap();
    (
        as_images(Tensor::new(&samples, &CPU).unwrap(), 2),
        as_images(Tensor::new(&training, &CPU).unwrap(), 4),
    )
}

#[test]
fn nearest_neighbours_match_hand_computed_distances() {
    let (samples, training) = tiny_set();
    let found = nearest_neighbours(&samples, &training, 3).unwrap();
    // Sample 0 = (1, 1, 1, 1): image 1 at 0; image 3 at 0.4 / 4 = 0.1; images 0 and 2 tie
    // at 4 / 4 = 1 (|0.5| + |1.5| + |0.5| + |1.5| = 4), the lower index first.
    // Sample 1 = (0, 0, 0, -0.2): image 0 at 0.2 / 4 = 0.05; image 2 at 1.8 / 4 = 0.45;
    // image 3 at 3.8 / 4 = 0.95; image 1 at 4.2 / 4 = 1.05 is fourth.
    let expected = [
        vec![(1, 0.0), (3, 0.1), (0, 1.0)],
        vec![(0, 0.05), (2, 0.45), (3, 0.95)],
    ];
    for (list, want) in found.iter().zip(&expected) {
        let indices: Vec<usize> = list.iter().map(|e| e.0).collect();
        let want_indices: Vec<usize> = want.iter().map(|e| e.0).collect();
        assert_eq!(indices, want_indices);
        for (got, w) in list.iter().zip(want) {
            assert!((got.1 - w.1).abs() < 1e-6, "{list:?} vs {want:?}");
        }
    }
}

#[test]
fn nearest_neighbours_agree_with_brute_force_across_chunks() {
    // 2500 images of 64x64 span three chunks of the training set.
    let (m, n, k, size) = (2500, 3, 4, 64 * 64);
    let training = uniform_images(m, 64, 1);
    let samples = training
        .narrow(0, 1234, n)
        .unwrap()
        .affine(0.9, 0.01)
        .unwrap();
    let found = nearest_neighbours(&samples, &training, k).unwrap();
    let (t, s) = (flat(&training), flat(&samples));
    for (i, list) in found.iter().enumerate() {
        let query = &s[i * size..(i + 1) * size];
        let mut all: Vec<(usize, f64)> = t
            .chunks_exact(size)
            .enumerate()
            .map(|(j, image)| {
                let sum: f64 = query
                    .iter()
                    .zip(image)
                    .map(|(a, b)| (a - b).abs() as f64)
                    .sum();
                (j, sum / size as f64)
            })
            .collect();
        all.sort_by(|a, b| a.1.total_cmp(&b.1));
        assert_eq!(list[0].0, 1234 + i);
        for (got, want) in list.iter().zip(&all[..k]) {
            assert_eq!(got.0, want.0);
            assert!((got.1 - want.1).abs() < 1e-6);
        }
    }
}

#[test]
fn nearest_neighbours_refuse_bad_k_and_shapes() {
    let (samples, training) = tiny_set();
    assert!(matches!(
        nearest_neighbours(&samples, &training, 0),
        Err(Error::Config { .. })
    ));
    assert!(matches!(
        nearest_neighbours(&samples, &training, 5),
        Err(Error::Config { .. })
    ));
    let other = Tensor::zeros((3, 1, 2, 3), candle_core::DType::F32, &CPU).unwrap();
    assert!(matches!(
        nearest_neighbours(&samples, &other, 1),
        Err(Error::Shape { .. })
    ));
    let empty = Tensor::zeros((2, 0, 2, 2), candle_core::DType::F32, &CPU).unwrap();
    assert!(matches!(
        nearest_neighbours(&empty, &empty, 1),
        Err(Error::Shape { .. })
    ));
    let flat_samples = samples.flatten_from(1).unwrap();
    let bad = nearest_neighbours(&flat_samples, &training, 1);
    assert!(matches!(bad, Err(Error::Shape { .. })));
}

#[test]
fn side_by_side_puts_each_sample_before_its_neighbours() {
    let (samples, training) = tiny_set();
    let neighbours = nearest_neighbours(&samples, &training, 2).unwrap();
    let grid = side_by_side(&samples, &training, &neighbours).unwrap();
    assert_eq!(grid.dims(), &[6, 1, 2, 2]);
    let tiles = grid.flatten_from(1).unwrap().to_vec2::<f32>().unwrap();
    let image = |t: &Tensor, i: usize| flat(&t.i(i).unwrap());
    // Row 0: sample 0, training 1, training 3; row 1: sample 1, training 0, training 2.
    let expected = [
        image(&samples, 0),
        image(&training, 1),
        image(&training, 3),
        image(&samples, 1),
        image(&training, 0),
        image(&training, 2),
    ];
    assert_eq!(tiles, expected);
}

#[test]
fn side_by_side_refuses_inconsistent_neighbour_lists() {
    let (samples, training) = tiny_set();
    let ragged = vec![vec![(0, 0.0), (1, 0.0)], vec![(0, 0.0)]];
    let out_of_range = vec![vec![(0, 0.0)], vec![(4, 0.0)]];
    let too_few = vec![vec![(0, 0.0)]];
    for lists in [ragged, out_of_range, too_few] {
        let result = side_by_side(&samples, &training, &lists);
        assert!(matches!(result, Err(Error::Config { .. })), "{lists:?}");
    }
}

/// Times the search at MNIST's sizes: `cargo test --release --test eval_latent -- --ignored
/// --nocapture`.
#[test]
#[ignore = "timing, run on demand"]
fn nearest_neighbours_timing_at_mnist_sizes() {
    let samples = uniform_images(100, 28, 2);
    for m in [4000, 60000] {
        let training = uniform_images(m, 28, 3);
        let start = std::time::Instant::now();
        let found = nearest_neighbours(&samples, &training, 5).unwrap();
        let elapsed = start.elapsed();
        assert_eq!(found.len(), 100);
        println!("nearest_neighbours n=100 m={m} k=5 28x28: {elapsed:?}");
    }
}
