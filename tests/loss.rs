//! The loss against hand computation: cross-entropy, the stable binary cross-entropy and its
//! gradient, and how the AC-GAN loss assembles its parts.

use acgan::loss::{binary_cross_entropy_with_logits, cross_entropy};
use acgan::{AcGanLoss, DiscriminatorOutput, Error};
use candle_core::{DType, Device, Tensor, Var};

fn scalar(t: &Tensor) -> f64 {
    t.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
}

fn close(found: f64, expected: f64, tol: f64) {
    let scale = expected.abs().max(1.0);
    assert!(
        (found - expected).abs() <= tol * scale,
        "found {found}, expected {expected}"
    );
}

#[test]
fn confident_correct_logits_give_a_tiny_cross_entropy_not_a_double_softmax() {
    // Logit 10 on the target, 0 on the nine others:
    // -log(e^10 / (e^10 + 9)) = log(1 + 9 e^-10) = 4.0856e-4 by hand.
    // A softmax applied before a softmax-based loss would give about 1.46 instead.
    let mut row = vec![0f32; 10];
    row[3] = 10.0;
    let logits = Tensor::from_vec(row, (1, 10), &Device::Cpu).unwrap();
    let labels = Tensor::new(&[3u32], &Device::Cpu).unwrap();
    let expected = (1.0 + 9.0 * (-10f64).exp()).ln();
    close(
        scalar(&cross_entropy(&logits, &labels).unwrap()),
        expected,
        1e-5,
    );
    assert!((expected - 4.0856e-4).abs() < 1e-7);
}

#[test]
fn uniform_logits_give_log_of_the_class_count() {
    let logits = Tensor::full(0.7f32, (4, 10), &Device::Cpu).unwrap();
    let labels = Tensor::new(&[0u32, 3, 9, 5], &Device::Cpu).unwrap();
    close(
        scalar(&cross_entropy(&logits, &labels).unwrap()),
        10f64.ln(),
        1e-6,
    );
}

#[test]
fn cross_entropy_refuses_labels_beyond_the_classes() {
    let logits = Tensor::zeros((2, 10), DType::F32, &Device::Cpu).unwrap();
    let labels = Tensor::new(&[1u32, 10], &Device::Cpu).unwrap();
    match cross_entropy(&logits, &labels) {
        Err(Error::LabelOutOfRange {
            label: 10,
            num_classes: 10,
            ..
        }) => {}
        other => panic!("expected LabelOutOfRange, got {other:?}"),
    }
}

/// softplus(x) - x t, the BCE of sigmoid(x) against t, evaluated by hand in f64.
fn bce_by_hand(x: f64, t: f64) -> f64 {
    let softplus = if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    };
    softplus - x * t
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

const EXTREME: [f64; 8] = [-100.0, -30.0, -17.5, -1.0, 0.0, 2.0, 30.0, 100.0];

#[test]
fn bce_is_finite_and_exact_for_extreme_logits() {
    for &t in &[0.0, 1.0, 0.9] {
        for &x in &EXTREME {
            let logits = Tensor::new(&[x as f32], &Device::Cpu).unwrap();
            let targets = Tensor::new(&[t as f32], &Device::Cpu).unwrap();
            let found = scalar(&binary_cross_entropy_with_logits(&logits, &targets).unwrap());
            assert!(found.is_finite(), "x {x} t {t} gave {found}");
            close(found, bce_by_hand(x, t), 1e-6);
        }
    }
}

#[test]
fn bce_gradient_is_sigmoid_minus_target_even_at_extremes_and_zero() {
    let x: Vec<f64> = EXTREME.to_vec();
    for &t in &[0.0, 1.0, 0.9] {
        let var = Var::new(x.as_slice(), &Device::Cpu).unwrap();
        let targets = Tensor::full(t, x.len(), &Device::Cpu).unwrap();
        let loss = binary_cross_entropy_with_logits(var.as_tensor(), &targets).unwrap();
        let grads = loss.backward().unwrap();
        let grad = grads
            .get(var.as_tensor())
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        for (i, &xi) in x.iter().enumerate() {
            // The loss is a mean over the elements, hence the division.
            let expected = (sigmoid(xi) - t) / x.len() as f64;
            close(grad[i], expected, 1e-12);
        }
    }
}

#[test]
fn bce_gradient_matches_finite_differences() {
    let x = [-3.0f64, -0.4, 0.25, 1.5, 4.0];
    let t = [0.0f64, 1.0, 0.9, 0.3, 1.0];
    let targets = Tensor::new(&t, &Device::Cpu).unwrap();
    let var = Var::new(&x, &Device::Cpu).unwrap();
    let loss = binary_cross_entropy_with_logits(var.as_tensor(), &targets).unwrap();
    let grad = loss
        .backward()
        .unwrap()
        .get(var.as_tensor())
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let h = 1e-6;
    for i in 0..x.len() {
        let at = |delta: f64| {
            let mut moved = x;
            moved[i] += delta;
            let logits = Tensor::new(&moved, &Device::Cpu).unwrap();
            scalar(&binary_cross_entropy_with_logits(&logits, &targets).unwrap())
        };
        let numeric = (at(h) - at(-h)) / (2.0 * h);
        close(grad[i], numeric, 1e-7);
    }
}

fn output(source: &[f32], class: &[[f32; 3]]) -> DiscriminatorOutput {
    let flat: Vec<f32> = class.iter().flatten().copied().collect();
    DiscriminatorOutput {
        source: Tensor::new(source, &Device::Cpu).unwrap(),
        class: Tensor::from_vec(flat, (class.len(), 3), &Device::Cpu).unwrap(),
    }
}

/// log(sum(exp(row))) - row[label], by hand.
fn ce_by_hand(rows: &[[f32; 3]], labels: &[u32]) -> f64 {
    let total: f64 = rows
        .iter()
        .zip(labels)
        .map(|(row, &l)| {
            let lse = row.iter().map(|&v| (v as f64).exp()).sum::<f64>().ln();
            lse - row[l as usize] as f64
        })
        .sum();
    total / rows.len() as f64
}

fn mean_bce(xs: &[f32], t: f64) -> f64 {
    xs.iter().map(|&x| bce_by_hand(x as f64, t)).sum::<f64>() / xs.len() as f64
}

#[test]
fn discriminator_and_generator_losses_assemble_the_paper_objective() {
    let real_class = [[2.0, -1.0, 0.5], [0.0, 0.3, -0.2]];
    let fake_class = [[1.0, 1.0, -3.0], [-0.5, 2.5, 0.0], [0.1, 0.2, 0.3]];
    let real = output(&[1.5, -0.5], &real_class);
    let fake = output(&[-2.0, 0.7, 0.0], &fake_class);
    let real_labels = Tensor::new(&[0u32, 2], &Device::Cpu).unwrap();
    let fake_labels = Tensor::new(&[1u32, 1, 2], &Device::Cpu).unwrap();

    let d = AcGanLoss::default()
        .discriminator(&real, &real_labels, &fake, &fake_labels)
        .unwrap();
    let expected_parts = [
        mean_bce(&[1.5, -0.5], 1.0),
        mean_bce(&[-2.0, 0.7, 0.0], 0.0),
        ce_by_hand(&real_class, &[0, 2]),
        ce_by_hand(&fake_class, &[1, 1, 2]),
    ];
    let parts = [&d.source_real, &d.source_fake, &d.class_real, &d.class_fake];
    for (found, expected) in parts.iter().zip(expected_parts) {
        close(scalar(found), expected, 1e-6);
    }
    close(scalar(&d.total), expected_parts.iter().sum(), 1e-6);

    let without_fake_class = AcGanLoss {
        aux_on_fake: false,
        ..Default::default()
    };
    let d = without_fake_class
        .discriminator(&real, &real_labels, &fake, &fake_labels)
        .unwrap();
    close(scalar(&d.total), expected_parts[..3].iter().sum(), 1e-6);

    let smoothed = AcGanLoss {
        real_label_smoothing: 0.1,
        ..Default::default()
    };
    let d = smoothed
        .discriminator(&real, &real_labels, &fake, &fake_labels)
        .unwrap();
    close(scalar(&d.source_real), mean_bce(&[1.5, -0.5], 0.9), 1e-6);

    let g = AcGanLoss::default().generator(&fake, &fake_labels).unwrap();
    close(scalar(&g.source), mean_bce(&[-2.0, 0.7, 0.0], 1.0), 1e-6);
    close(scalar(&g.class), expected_parts[3], 1e-6);
    close(
        scalar(&g.total),
        expected_parts[3] + mean_bce(&[-2.0, 0.7, 0.0], 1.0),
        1e-6,
    );

    // The literal objective: G minimises log P(S=fake | x_fake) = -BCE(s, 0).
    let saturating = AcGanLoss {
        saturating_generator: true,
        ..Default::default()
    };
    let g = saturating.generator(&fake, &fake_labels).unwrap();
    close(scalar(&g.source), -mean_bce(&[-2.0, 0.7, 0.0], 0.0), 1e-6);
}

#[test]
fn smoothing_outside_its_range_is_a_config_error() {
    let loss = AcGanLoss {
        real_label_smoothing: 1.0,
        ..Default::default()
    };
    assert!(matches!(loss.validate(), Err(Error::Config { .. })));
}
