//! SSIM and MS-SSIM against `tests/fixtures/vectors/ssim_msssim.json`, a copy of the project's
//! shared reference values (computed in f64 by an independent NumPy/SciPy implementation; see
//! the README beside it), and their properties: identity gives 1, symmetry, bounds, and the
//! refusals.

use std::path::Path;

use acgan::eval::ssim::{ms_ssim, ms_ssim_from_generator_range, ssim, SmallImages, SsimConfig};
use acgan::Error;
use candle_core::{DType, Device, Tensor};
use serde_json::Value;

/// Relative to max(1, |expected|), as the vectors' README asks.
const TOLERANCE: f64 = 1e-4;

/// Keys under `expected` naming conventions this crate does not offer (see the module docs).
const NOT_OFFERED: [&str; 4] = [
    "ms_ssim_torch_zero",
    "ms_ssim_piq",
    "ms_ssim_channel_pool_inside",
    "ms_ssim_negative_simple",
];

/// The one case whose pixels are negative, fed literally to show why that is wrong.
const LITERAL_TANH: &str = "tanh_range_literal_28";

fn vectors() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vectors/ssim_msssim.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn cases() -> Vec<Value> {
    let cases = vectors()["cases"].as_array().unwrap().clone();
    assert_eq!(
        cases.len(),
        11,
        "a case was added or removed: review these tests"
    );
    for case in &cases {
        assert_eq!(
            case["kind"], "pair",
            "{}: only pair cases are handled",
            case["id"]
        );
    }
    cases
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// A case's image `key` as a `(1, channels, height, width)` f64 tensor; the JSON holds it
/// row-major with the channel last.
fn image(case: &Value, key: &str) -> Tensor {
    let shape: Vec<usize> = numbers(&case["shape"])
        .iter()
        .map(|&s| s as usize)
        .collect();
    let channels = shape.get(2).copied().unwrap_or(1);
    let hwc = (1, shape[0], shape[1], channels);
    Tensor::from_vec(numbers(&case[key]), hwc, &Device::Cpu)
        .unwrap()
        .permute((0, 3, 1, 2))
        .unwrap()
}

fn config(case: &Value, small_images: SmallImages) -> SsimConfig {
    SsimConfig {
        data_range: case["data_range"].as_f64().unwrap(),
        small_images,
        ..Default::default()
    }
}

fn close(found: f64, expected: f64, what: &str) {
    let scale = expected.abs().max(1.0);
    assert!(
        (found - expected).abs() <= TOLERANCE * scale,
        "{what}: found {found}, expected {expected}"
    );
}

/// The convention an `expected` key names, or `None` for plain SSIM.
fn convention(key: &str) -> Option<SmallImages> {
    match key {
        "ssim" => None,
        "ms_ssim" => Some(SmallImages::Truncate),
        "ms_ssim_standard" => Some(SmallImages::Strict),
        "ms_ssim_clamp" => Some(SmallImages::ClampWindow),
        "ms_ssim_clamp_scaled_sigma" => Some(SmallImages::ClampWindowScaledSigma),
        other => panic!("unknown key {other}: add it here or to NOT_OFFERED"),
    }
}

/// One value of `case` under the convention of `key`.
fn compute(case: &Value, key: &str) -> acgan::Result<f64> {
    let (a, b) = (image(case, "a"), image(case, "b"));
    let values = match convention(key) {
        None => ssim(&a, &b, &config(case, SmallImages::Truncate))?,
        Some(small) => ms_ssim(&a, &b, &config(case, small))?,
    };
    assert_eq!(values.len(), 1);
    Ok(values[0])
}

#[test]
fn every_case_matches_every_offered_convention() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| c["id"] != LITERAL_TANH) {
        let id = case["id"].as_str().unwrap();
        for (key, expected) in case["expected"].as_object().unwrap() {
            if NOT_OFFERED.contains(&key.as_str()) {
                continue;
            }
            let what = format!("{id} {key}");
            match (compute(case, key), expected.as_f64()) {
                (Ok(found), Some(expected)) => close(found, expected, &what),
                (Err(Error::Shape { .. }), None) => {}
                (found, expected) => panic!("{what}: found {found:?}, expected {expected:?}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 50);
}

#[test]
fn standard_five_scales_apply_from_161_pixels_and_null_means_refused() {
    for case in cases().iter().filter(|c| c["id"] != LITERAL_TANH) {
        let side = case["shape"][0].as_u64().unwrap();
        let standard = &case["expected"]["ms_ssim_standard"];
        assert_eq!(standard.is_null(), side < 161, "{}", case["id"]);
    }
}

/// 2x2 means with an odd last row or column paired with itself, written independently of the
/// crate's.
fn halve(plane: &[f64], h: usize, w: usize) -> (Vec<f64>, usize, usize) {
    let (oh, ow) = (h.div_ceil(2), w.div_ceil(2));
    let mut out = vec![0.0; oh * ow];
    for r in 0..oh {
        for c in 0..ow {
            let rows = [2 * r, (2 * r + 1).min(h - 1)];
            let cols = [2 * c, (2 * c + 1).min(w - 1)];
            let sum: f64 = rows
                .iter()
                .flat_map(|&y| cols.map(|x| plane[y * w + x]))
                .sum();
            out[r * ow + c] = sum / 4.0;
        }
    }
    (out, oh, ow)
}

/// Channel `c` of a case's image `key`, as a row-major plane.
fn plane(case: &Value, key: &str, c: usize) -> Vec<f64> {
    let channels = case["shape"].get(2).and_then(Value::as_u64).unwrap_or(1) as usize;
    numbers(&case[key])
        .into_iter()
        .skip(c)
        .step_by(channels)
        .collect()
}

#[test]
fn per_scale_ssim_matches_each_channel_at_each_scale() {
    for case in cases().iter().filter(|c| c["id"] != LITERAL_TANH) {
        let id = case["id"].as_str().unwrap();
        let config = config(case, SmallImages::Truncate);
        for (c, scales) in case["per_scale_default"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let (mut a, mut b) = (plane(case, "a", c), plane(case, "b", c));
            let mut h = case["shape"][0].as_u64().unwrap() as usize;
            let mut w = case["shape"][1].as_u64().unwrap() as usize;
            for (s, scale) in scales.as_array().unwrap().iter().enumerate() {
                assert_eq!(
                    numbers(&scale["size"]),
                    [h as f64, w as f64],
                    "{id} scale {s}"
                );
                let ta = Tensor::from_vec(a.clone(), (1, 1, h, w), &Device::Cpu).unwrap();
                let tb = Tensor::from_vec(b.clone(), (1, 1, h, w), &Device::Cpu).unwrap();
                let found = ssim(&ta, &tb, &config).unwrap()[0];
                let what = format!("{id} channel {c} scale {s} ssim");
                close(found, scale["ssim"].as_f64().unwrap(), &what);
                (a, _, _) = halve(&a, h, w);
                (b, h, w) = halve(&b, h, w);
            }
        }
    }
}

/// `plan_default` lists weights divided by their sum even when all five scales fit, while the
/// values follow `default_conventions` ("unchanged when M'=5"); the standard weights sum to
/// 1.0001, so the two readings differ by 1e-4 relative, within the tolerance.
#[test]
fn the_default_plan_keeps_the_scales_of_at_least_11_pixels_with_renormalised_weights() {
    let standard = SsimConfig::default().weights;
    for case in cases() {
        let plan = case["plan_default"].as_array().unwrap();
        let side = case["shape"][0].as_u64().unwrap() as usize;
        let sides = std::iter::successors(Some(side), |s| Some(s.div_ceil(2)));
        let count = sides.take(5).take_while(|&s| s >= 11).count();
        assert_eq!(plan.len(), count, "{}", case["id"]);
        let total: f64 = standard[..count].iter().sum();
        for (scale, weight) in plan.iter().zip(&standard) {
            close(
                scale["weight"].as_f64().unwrap(),
                weight / total,
                "plan weight",
            );
            assert_eq!(scale["win"], 11);
            assert_eq!(scale["sigma"], 1.5);
        }
    }
}

fn case(id: &str) -> Value {
    cases().into_iter().find(|c| c["id"] == id).unwrap()
}

#[test]
fn integer_pixels_with_range_256_equal_unit_pixels_with_range_1() {
    let (unit, int) = (case("unit_range_28"), case("int_range_28"));
    for key in [
        "ssim",
        "ms_ssim",
        "ms_ssim_clamp",
        "ms_ssim_clamp_scaled_sigma",
    ] {
        let (u, i) = (compute(&unit, key).unwrap(), compute(&int, key).unwrap());
        assert!((u - i).abs() < 1e-12, "{key}: {u} vs {i}");
    }
}

#[test]
fn tanh_range_images_are_refused_as_they_are_and_mapped_by_the_generator_range_function() {
    let literal = case(LITERAL_TANH);
    let unit = case("unit_range_28");
    let (a, b) = (image(&literal, "a"), image(&literal, "b"));
    let config = config(&literal, SmallImages::Truncate);
    assert!(matches!(ssim(&a, &b, &config), Err(Error::Config { .. })));
    assert!(matches!(
        ms_ssim(&a, &b, &config),
        Err(Error::Config { .. })
    ));
    for (key, expected) in literal["expected"].as_object().unwrap() {
        let Some(Some(small)) = expected.as_f64().map(|_| convention(key)) else {
            continue;
        };
        let config = SsimConfig {
            small_images: small,
            ..Default::default()
        };
        let mapped = ms_ssim_from_generator_range(&a, &b, &config).unwrap()[0];
        // (k - 128) / 128 mapped by (x + 1) / 2 is k / 256: the pixels of unit_range_28.
        close(mapped, unit["expected"][key].as_f64().unwrap(), key);
        // The literal values, which the refusal prevents, are measurably different.
        let literal_value = expected.as_f64().unwrap();
        assert!((mapped - literal_value).abs() > 10.0 * TOLERANCE, "{key}");
    }
}

/// Pseudo-random pixels in [0, 1) from a fixed seed (a 64-bit LCG).
fn noise(seed: u64, dims: (usize, usize, usize, usize)) -> Tensor {
    let count = dims.0 * dims.1 * dims.2 * dims.3;
    let mut state = seed;
    let values: Vec<f32> = (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect();
    Tensor::from_vec(values, dims, &Device::Cpu).unwrap()
}

fn all_conventions() -> Vec<SsimConfig> {
    [
        SmallImages::Truncate,
        SmallImages::ClampWindow,
        SmallImages::ClampWindowScaledSigma,
    ]
    .into_iter()
    .map(|small_images| SsimConfig {
        small_images,
        ..Default::default()
    })
    .collect()
}

#[test]
fn an_image_compared_with_itself_scores_exactly_one() {
    for dims in [(3, 1, 28, 28), (2, 3, 32, 32), (1, 2, 13, 40)] {
        let x = noise(7, dims);
        for config in all_conventions() {
            for v in ssim(&x, &x, &config).unwrap() {
                close(v, 1.0, "ssim");
            }
            for v in ms_ssim(&x, &x, &config).unwrap() {
                close(v, 1.0, "ms_ssim");
            }
        }
    }
}

#[test]
fn scores_are_symmetric_and_within_bounds() {
    let (a, b) = (noise(1, (4, 3, 28, 28)), noise(2, (4, 3, 28, 28)));
    for config in all_conventions() {
        let (ab, ba) = (
            ms_ssim(&a, &b, &config).unwrap(),
            ms_ssim(&b, &a, &config).unwrap(),
        );
        for (x, y) in ab.iter().zip(&ba) {
            assert!((x - y).abs() < 1e-12 && (0.0..=1.0).contains(x), "{x} {y}");
        }
        let (ab, ba) = (
            ssim(&a, &b, &config).unwrap(),
            ssim(&b, &a, &config).unwrap(),
        );
        for (x, y) in ab.iter().zip(&ba) {
            assert!((x - y).abs() < 1e-12 && (-1.0..=1.0).contains(x), "{x} {y}");
        }
    }
}

#[test]
fn a_batch_scores_each_pair_on_its_own() {
    let (a, b) = (noise(3, (3, 2, 30, 29)), noise(4, (3, 2, 30, 29)));
    let config = SsimConfig::default();
    let batch = ms_ssim(&a, &b, &config).unwrap();
    assert_eq!(batch.len(), 3);
    for (i, &value) in batch.iter().enumerate() {
        let (x, y) = (a.narrow(0, i, 1).unwrap(), b.narrow(0, i, 1).unwrap());
        assert_eq!(ms_ssim(&x, &y, &config).unwrap(), [value]);
    }
}

#[test]
fn dtypes_give_the_same_values() {
    let (a, b) = (noise(5, (2, 1, 28, 28)), noise(6, (2, 1, 28, 28)));
    let config = SsimConfig::default();
    let f32s = ms_ssim(&a, &b, &config).unwrap();
    let to64 = |t: &Tensor| t.to_dtype(DType::F64).unwrap();
    assert_eq!(ms_ssim(&to64(&a), &to64(&b), &config).unwrap(), f32s);
}

#[test]
fn strict_mode_refuses_28_pixels_and_accepts_161() {
    let strict = SsimConfig {
        small_images: SmallImages::Strict,
        ..Default::default()
    };
    assert_eq!(strict.min_side_for_all_scales(), 161);
    let x = noise(8, (1, 1, 28, 28));
    match ms_ssim(&x, &x, &strict) {
        Err(Error::Shape { expected, .. }) => assert!(expected.contains("161"), "{expected}"),
        other => panic!("expected a Shape error, got {other:?}"),
    }
    let x = noise(9, (1, 1, 161, 170));
    close(ms_ssim(&x, &x, &strict).unwrap()[0], 1.0, "161 px");
    let small = noise(10, (1, 1, 160, 170));
    assert!(matches!(
        ms_ssim(&small, &small, &strict),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn images_smaller_than_the_window_need_a_clamping_convention() {
    let x = noise(11, (2, 1, 10, 12));
    let y = noise(12, (2, 1, 10, 12));
    let config = SsimConfig::default();
    assert!(matches!(ssim(&x, &y, &config), Err(Error::Shape { .. })));
    assert!(matches!(ms_ssim(&x, &y, &config), Err(Error::Shape { .. })));
    for small_images in [
        SmallImages::ClampWindow,
        SmallImages::ClampWindowScaledSigma,
    ] {
        let config = SsimConfig {
            small_images,
            ..Default::default()
        };
        for v in ms_ssim(&x, &y, &config).unwrap() {
            assert!((0.0..=1.0).contains(&v), "{v}");
        }
    }
}

#[test]
fn wrong_shapes_are_refused_with_the_dims_found() {
    let config = SsimConfig::default();
    let a = noise(13, (2, 1, 28, 28));
    let b = noise(14, (2, 1, 28, 27));
    match ms_ssim(&a, &b, &config) {
        Err(Error::Shape { found, .. }) => assert_eq!(found, [2, 1, 28, 27]),
        other => panic!("expected a Shape error, got {other:?}"),
    }
    let flat = a.flatten_from(2).unwrap();
    assert!(matches!(
        ssim(&flat, &flat, &config),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn negative_or_non_finite_pixels_are_refused() {
    let config = SsimConfig::default();
    let a = noise(15, (1, 1, 28, 28));
    let nan = (a.clone() * f64::NAN).unwrap();
    assert!(matches!(
        ms_ssim(&a, &nan, &config),
        Err(Error::Config { .. })
    ));
    let centred = (a.clone() - 0.5).unwrap();
    let message = ms_ssim(&centred, &a, &config).unwrap_err().to_string();
    assert!(
        message.contains("ms_ssim_from_generator_range"),
        "{message}"
    );
}

#[test]
fn generator_range_refuses_pixels_outside_minus_one_to_one() {
    let bytes = (noise(16, (1, 1, 28, 28)) * 255.0).unwrap();
    let config = SsimConfig::default();
    let result = ms_ssim_from_generator_range(&bytes, &bytes, &config);
    assert!(matches!(result, Err(Error::Config { .. })));
}

#[test]
fn generator_range_equals_ms_ssim_of_the_mapped_images_with_range_one() {
    let (a, b) = (noise(17, (2, 3, 32, 32)), noise(18, (2, 3, 32, 32)));
    let tanh = |t: &Tensor| t.affine(2.0, -1.0).unwrap();
    let config = SsimConfig {
        data_range: 255.0,
        ..Default::default()
    };
    let mapped = ms_ssim_from_generator_range(&tanh(&a), &tanh(&b), &config).unwrap();
    let direct = ms_ssim(&a, &b, &SsimConfig::default()).unwrap();
    for (m, d) in mapped.iter().zip(&direct) {
        assert!((m - d).abs() < 1e-6, "{m} vs {d}");
    }
}

#[test]
fn invalid_configs_are_refused() {
    let x = noise(19, (1, 1, 28, 28));
    let broken = [
        SsimConfig {
            window: 0,
            ..Default::default()
        },
        SsimConfig {
            sigma: 0.0,
            ..Default::default()
        },
        SsimConfig {
            data_range: -1.0,
            ..Default::default()
        },
        SsimConfig {
            weights: vec![],
            ..Default::default()
        },
        SsimConfig {
            weights: vec![0.5, f64::NAN],
            ..Default::default()
        },
    ];
    for config in broken {
        assert!(config.check().is_err(), "{config:?}");
        assert!(matches!(
            ms_ssim(&x, &x, &config),
            Err(Error::Config { .. })
        ));
    }
}
