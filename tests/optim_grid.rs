//! Adam against a hand-computed trajectory, seeded initialisation, and grid tiling positions.

use acgan::grid::tile;
use acgan::init::SeededInit;
use acgan::{Adam, AdamConfig};
use candle_core::{DType, Device, Tensor};
use candle_nn::{Init, VarMap};

#[test]
fn adam_follows_the_algorithm_step_by_step() {
    // Minimise f(p) = sum(a * p^2 / 2) from p0; the gradient is a * p. The expected
    // trajectory is Kingma and Ba's algorithm 1 evaluated in f64 here.
    let (a, p0) = ([3.0f64, -0.5, 10.0], [1.0f64, 2.0, -0.25]);
    let config = AdamConfig {
        learning_rate: 0.1,
        beta1: 0.5,
        beta2: 0.999,
        eps: 1e-8,
    };
    let varmap = VarMap::new();
    let p = varmap
        .get(3, "p", Init::Const(0.0), DType::F64, &Device::Cpu)
        .unwrap();
    varmap.data().lock().unwrap()["p"]
        .set(&Tensor::new(&p0, &Device::Cpu).unwrap())
        .unwrap();
    let mut adam = Adam::new(&varmap, config).unwrap();
    let a_t = Tensor::new(&a, &Device::Cpu).unwrap();

    let (mut expected, mut m, mut v) = (p0, [0.0f64; 3], [0.0f64; 3]);
    for t in 1..=4 {
        let loss = ((&p * &p).unwrap() * &a_t)
            .unwrap()
            .sum_all()
            .unwrap()
            .affine(0.5, 0.0)
            .unwrap();
        adam.step(&loss.backward().unwrap()).unwrap();
        for i in 0..3 {
            let g = a[i] * expected[i];
            m[i] = config.beta1 * m[i] + (1.0 - config.beta1) * g;
            v[i] = config.beta2 * v[i] + (1.0 - config.beta2) * g * g;
            let m_hat = m[i] / (1.0 - config.beta1.powi(t));
            let v_hat = v[i] / (1.0 - config.beta2.powi(t));
            expected[i] -= config.learning_rate * m_hat / (v_hat.sqrt() + config.eps);
        }
        let found = p.to_vec1::<f64>().unwrap();
        for i in 0..3 {
            assert!(
                (found[i] - expected[i]).abs() < 1e-12,
                "step {t}: {found:?} vs {expected:?}"
            );
        }
    }
    assert_eq!(adam.step_count(), 4);
    assert_eq!(adam.moments().len(), 1);
}

#[test]
fn adam_defaults_are_the_papers_and_bad_settings_are_refused() {
    let d = AdamConfig::default();
    assert_eq!((d.learning_rate, d.beta1, d.beta2), (2e-4, 0.5, 0.999));
    let bad = AdamConfig { beta1: 1.0, ..d };
    assert!(Adam::new(&VarMap::new(), bad).is_err());
}

#[test]
fn seeded_initialisation_is_reproducible_and_has_the_asked_statistics() {
    let draw = |seed| {
        let vars = VarMap::new();
        let vb = SeededInit::var_builder(&vars, seed, &Device::Cpu);
        let w = vb
            .get_with_hints(
                20_000,
                "w",
                Init::Randn {
                    mean: 1.0,
                    stdev: 0.02,
                },
            )
            .unwrap();
        w.to_vec1::<f32>().unwrap()
    };
    let (a, b, c) = (draw(3), draw(3), draw(4));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let mean = a.iter().map(|&x| x as f64).sum::<f64>() / a.len() as f64;
    let var = a.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / a.len() as f64;
    // Standard error of the mean is 0.02 / sqrt(20000) = 1.4e-4; of the std about 1e-4.
    assert!((mean - 1.0).abs() < 7e-4, "mean {mean}");
    assert!((var.sqrt() - 0.02).abs() < 5e-4, "std {}", var.sqrt());
}

#[test]
fn tiles_land_at_their_row_and_column_with_gaps() {
    // Three 2x3 grey images, values -1, 0 and 1, two per row, gap 1:
    // width 2*3 + 1 = 7, height 2*2 + 1 = 5.
    let values: Vec<f32> = [-1.0f32, 0.0, 1.0]
        .iter()
        .flat_map(|&v| vec![v; 6])
        .collect();
    let images = Tensor::from_vec(values, (3, 1, 2, 3), &Device::Cpu).unwrap();
    let picture = tile(&images, 2, 1).unwrap();
    assert_eq!((picture.width, picture.height, picture.channels), (7, 5, 1));
    let at = |x: usize, y: usize| picture.pixels[y * 7 + x];
    assert_eq!(at(0, 0), 0); // first image, value -1
    assert_eq!(at(4, 1), 128); // second image, right of the gap column 3
    assert_eq!(at(3, 0), 0); // the gap
    assert_eq!(at(2, 4), 255); // third image, second row
    assert_eq!(at(5, 4), 0); // empty slot of the last row
}

#[test]
fn colour_tiles_keep_channels_in_rgb_order() {
    // One 1x2 image whose red plane is 1 and whose other planes are -1.
    let values = vec![1.0f32, 1.0, -1.0, -1.0, -1.0, -1.0];
    let images = Tensor::from_vec(values, (1, 3, 1, 2), &Device::Cpu).unwrap();
    let picture = tile(&images, 1, 0).unwrap();
    assert_eq!(picture.pixels, vec![255, 0, 0, 255, 0, 0]);
}
