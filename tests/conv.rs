//! `acgan::conv` against candle's own convolutions (forward values and gradients) and against
//! central finite differences in f64, which are the ground truth for the gradients.

use acgan::conv::{conv2d, conv_transpose2d};
use acgan::Error;
use candle_core::{DType, Device, Tensor, Var};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A tensor of values uniform in [-1, 1), the same for the same seed.
fn random(dims: &[usize], dtype: DType, seed: u64) -> Tensor {
    let mut rng = StdRng::seed_from_u64(seed);
    let values: Vec<f64> = (0..dims.iter().product())
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let t = Tensor::from_vec(values, dims, &Device::Cpu).unwrap();
    t.to_dtype(dtype).unwrap()
}

fn values(t: &Tensor) -> Vec<f64> {
    t.flatten_all()
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// Largest absolute difference, relative to the largest magnitude of `expected`.
fn relative_error(found: &Tensor, expected: &Tensor) -> f64 {
    assert_eq!(found.dims(), expected.dims());
    let (found, expected) = (values(found), values(expected));
    let scale = expected.iter().fold(1e-12_f64, |m, v| m.max(v.abs()));
    let diff = found
        .iter()
        .zip(&expected)
        .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
    diff / scale
}

/// One convolution's shapes and arguments.
#[derive(Clone, Copy, Debug)]
struct Case {
    batch: usize,
    c_in: usize,
    c_out: usize,
    side: (usize, usize),
    kernel: usize,
    stride: usize,
    padding: usize,
    output_padding: usize,
}

const fn case(
    b: usize,
    c: (usize, usize),
    side: (usize, usize),
    k: usize,
    s: usize,
    p: usize,
) -> Case {
    Case {
        batch: b,
        c_in: c.0,
        c_out: c.1,
        side,
        kernel: k,
        stride: s,
        padding: p,
        output_padding: 0,
    }
}

/// The last case of each list is large enough for the kernels to split work over threads.
const CONV_CASES: [Case; 9] = [
    case(1, (2, 3), (7, 7), 3, 1, 0),
    case(3, (3, 5), (8, 6), 3, 2, 1),
    case(3, (4, 2), (9, 10), 4, 2, 1),
    case(1, (3, 4), (6, 7), 5, 1, 2),
    case(3, (2, 3), (5, 5), 5, 2, 2),
    case(3, (1, 4), (28, 28), 3, 2, 1),
    case(1, (5, 3), (4, 4), 4, 1, 0),
    case(3, (2, 2), (3, 4), 5, 3, 1),
    case(3, (8, 4), (32, 30), 3, 1, 1),
];

const TRANSPOSE_CASES: [Case; 9] = [
    case(3, (4, 3), (7, 7), 4, 2, 1),
    Case {
        output_padding: 1,
        ..case(1, (3, 2), (4, 5), 5, 2, 2)
    },
    case(3, (2, 3), (6, 6), 3, 1, 0),
    Case {
        output_padding: 1,
        ..case(3, (3, 2), (5, 4), 3, 2, 1)
    },
    case(1, (2, 4), (3, 3), 4, 1, 2),
    Case {
        output_padding: 1,
        ..case(3, (5, 2), (4, 4), 5, 2, 2)
    },
    case(3, (6, 1), (14, 14), 4, 2, 1),
    Case {
        output_padding: 2,
        ..case(1, (2, 3), (3, 4), 4, 3, 0)
    },
    case(3, (4, 24), (16, 15), 4, 2, 1),
];

impl Case {
    fn input(&self, dtype: DType, seed: u64) -> Tensor {
        random(
            &[self.batch, self.c_in, self.side.0, self.side.1],
            dtype,
            seed,
        )
    }

    /// The weight for a convolution (`transpose` false) or a transposed convolution.
    fn weight(&self, transpose: bool, dtype: DType, seed: u64) -> Tensor {
        let (a, b) = if transpose {
            (self.c_in, self.c_out)
        } else {
            (self.c_out, self.c_in)
        };
        random(&[a, b, self.kernel, self.kernel], dtype, seed)
    }

    fn ours(&self, transpose: bool, x: &Tensor, w: &Tensor) -> acgan::Result<Tensor> {
        let (p, s) = (self.padding, self.stride);
        match transpose {
            false => conv2d(x, w, p, s),
            true => conv_transpose2d(x, w, p, self.output_padding, s),
        }
    }

    fn candle(&self, transpose: bool, x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
        let (p, s) = (self.padding, self.stride);
        match transpose {
            false => x.conv2d(w, p, s, 1, 1),
            true => x.conv_transpose2d(w, p, self.output_padding, s, 1),
        }
    }
}

fn check_forward(cases: &[Case], transpose: bool) {
    for (i, case) in cases.iter().enumerate() {
        let x = case.input(DType::F32, 2 * i as u64);
        let w = case.weight(transpose, DType::F32, 2 * i as u64 + 1);
        let ours = case.ours(transpose, &x, &w).unwrap();
        let theirs = case.candle(transpose, &x, &w).unwrap();
        let err = relative_error(&ours, &theirs);
        assert!(err < 1e-4, "{case:?}: relative error {err}");
    }
}

#[test]
fn conv2d_matches_candle() {
    check_forward(&CONV_CASES, false);
}

#[test]
fn conv_transpose2d_matches_candle() {
    check_forward(&TRANSPOSE_CASES, true);
}

#[test]
fn f64_and_strided_inputs_match_candle() {
    let case = CONV_CASES[2];
    let x = random(&[3, 9, 4, 10], DType::F64, 7)
        .transpose(1, 2)
        .unwrap();
    let w = case.weight(false, DType::F64, 8);
    let err = relative_error(
        &conv2d(&x, &w, 1, 2).unwrap(),
        &x.conv2d(&w, 1, 2, 1, 1).unwrap(),
    );
    assert!(err < 1e-12, "conv2d: relative error {err}");
    let case = TRANSPOSE_CASES[3];
    let x = random(&[3, 5, 3, 4], DType::F64, 9)
        .transpose(1, 2)
        .unwrap();
    let w = case.weight(true, DType::F64, 10);
    let ours = conv_transpose2d(&x, &w, 1, 1, 2).unwrap();
    let err = relative_error(&ours, &x.conv_transpose2d(&w, 1, 1, 2, 1).unwrap());
    assert!(err < 1e-12, "conv_transpose2d: relative error {err}");
}

#[test]
fn other_dtypes_fall_back_to_candle() {
    let case = CONV_CASES[1];
    let x = case.input(DType::F16, 11);
    let w = case.weight(false, DType::F16, 12);
    let err = relative_error(
        &case.ours(false, &x, &w).unwrap(),
        &case.candle(false, &x, &w).unwrap(),
    );
    assert!(err < 1e-2, "relative error {err}");
}

/// The gradient of `loss` at `t` by central differences, one element at a time.
fn numeric_gradient(t: &Tensor, loss: impl Fn(&Tensor) -> f64) -> Tensor {
    const STEP: f64 = 1e-6;
    let base = values(t);
    let grad: Vec<f64> = (0..base.len())
        .map(|i| {
            let shifted = |delta: f64| {
                let mut v = base.clone();
                v[i] += delta;
                loss(&Tensor::from_vec(v, t.dims(), &Device::Cpu).unwrap())
            };
            (shifted(STEP) - shifted(-STEP)) / (2.0 * STEP)
        })
        .collect();
    Tensor::from_vec(grad, t.dims(), &Device::Cpu).unwrap()
}

/// `(y * r).sum_all()` with `r` a random tensor fixed by `y`'s shape.
fn weighted_sum(y: Tensor) -> Tensor {
    let r = random(y.dims(), DType::F64, 99);
    (y * r).unwrap().sum_all().unwrap()
}

type Conv = fn(&Tensor, &Tensor) -> Tensor;

/// Gradients of `weighted_sum(conv(x, w))` with respect to `x` and `w` by backprop.
fn backprop_gradients(conv: Conv, x: &Tensor, w: &Tensor) -> (Tensor, Tensor) {
    let (x, w) = (Var::from_tensor(x).unwrap(), Var::from_tensor(w).unwrap());
    let grads = weighted_sum(conv(&x, &w)).backward().unwrap();
    (
        grads.get(&x).unwrap().clone(),
        grads.get(&w).unwrap().clone(),
    )
}

fn numeric_gradients(conv: Conv, x: &Tensor, w: &Tensor) -> (Tensor, Tensor) {
    let loss = |x: &Tensor, w: &Tensor| -> f64 { weighted_sum(conv(x, w)).to_scalar().unwrap() };
    (
        numeric_gradient(x, |x| loss(x, w)),
        numeric_gradient(w, |w| loss(x, w)),
    )
}

/// Checks the gradients of `ours` against finite differences and against `candle`.
fn check_gradients(ours: Conv, candle: Conv, x: &Tensor, w: &Tensor) {
    let (dx, dw) = backprop_gradients(ours, x, w);
    let (num_dx, num_dw) = numeric_gradients(ours, x, w);
    let (candle_dx, candle_dw) = backprop_gradients(candle, x, w);
    for (name, found, expected) in [
        ("x vs finite differences", &dx, &num_dx),
        ("w vs finite differences", &dw, &num_dw),
        ("x vs candle", &dx, &candle_dx),
        ("w vs candle", &dw, &candle_dw),
    ] {
        let err = relative_error(found, expected);
        assert!(err < 1e-6, "gradient of {name}: relative error {err}");
    }
}

#[test]
fn conv2d_gradients() {
    let x = random(&[2, 2, 6, 6], DType::F64, 20);
    let w = random(&[3, 2, 3, 3], DType::F64, 21);
    let ours: Conv = |x, w| conv2d(x, w, 1, 2).unwrap();
    check_gradients(ours, |x, w| x.conv2d(w, 1, 2, 1, 1).unwrap(), &x, &w);
    let w = random(&[2, 2, 4, 4], DType::F64, 22);
    let ours: Conv = |x, w| conv2d(x, w, 2, 1).unwrap();
    check_gradients(ours, |x, w| x.conv2d(w, 2, 1, 1, 1).unwrap(), &x, &w);
}

/// candle's own conv2d backward takes the output padding of its input gradient from the
/// height alone, so it fails when height and width leave different remainders by the stride
/// (here 6 and 5 with kernel 3, stride 2, padding 1). Ours is checked on finite differences.
#[test]
fn conv2d_gradients_of_unequal_sides() {
    let x = random(&[2, 2, 6, 5], DType::F64, 23);
    let w = random(&[3, 2, 3, 3], DType::F64, 24);
    let ours: Conv = |x, w| conv2d(x, w, 1, 2).unwrap();
    let (dx, dw) = backprop_gradients(ours, &x, &w);
    let (num_dx, num_dw) = numeric_gradients(ours, &x, &w);
    assert!(relative_error(&dx, &num_dx) < 1e-6 && relative_error(&dw, &num_dw) < 1e-6);
    let candle = Var::from_tensor(&x)
        .unwrap()
        .conv2d(&w, 1, 2, 1, 1)
        .unwrap();
    assert!(
        weighted_sum(candle).backward().is_err(),
        "candle's bug is fixed: compare with it"
    );
}

#[test]
fn conv_transpose2d_gradients() {
    let x = random(&[2, 3, 3, 4], DType::F64, 30);
    let w = random(&[3, 2, 4, 4], DType::F64, 31);
    check_gradients(
        |x, w| conv_transpose2d(x, w, 1, 0, 2).unwrap(),
        |x, w| x.conv_transpose2d(w, 1, 0, 2, 1).unwrap(),
        &x,
        &w,
    );
    let w = random(&[3, 2, 5, 5], DType::F64, 32);
    check_gradients(
        |x, w| conv_transpose2d(x, w, 2, 1, 2).unwrap(),
        |x, w| x.conv_transpose2d(w, 2, 1, 2, 1).unwrap(),
        &x,
        &w,
    );
}

/// With one argument a plain tensor, its gradient is skipped and the other one is unchanged.
#[test]
fn gradients_of_a_single_variable() {
    let x = random(&[2, 3, 5, 5], DType::F64, 35);
    let ours: [(Conv, Tensor); 2] = [
        (
            |x, w| conv2d(x, w, 1, 2).unwrap(),
            random(&[2, 3, 3, 3], DType::F64, 36),
        ),
        (
            |x, w| conv_transpose2d(x, w, 1, 1, 2).unwrap(),
            random(&[3, 2, 4, 4], DType::F64, 37),
        ),
    ];
    for (conv, w) in ours {
        let (dx, dw) = backprop_gradients(conv, &x, &w);
        let var = Var::from_tensor(&w).unwrap();
        let grads = weighted_sum(conv(&x, &var)).backward().unwrap();
        assert_eq!(relative_error(grads.get(&var).unwrap(), &dw), 0.0);
        assert!(grads.get(&x).is_none());
        let var = Var::from_tensor(&x).unwrap();
        let grads = weighted_sum(conv(&var, &w)).backward().unwrap();
        assert_eq!(relative_error(grads.get(&var).unwrap(), &dx), 0.0);
    }
}

/// A graph where one input feeds two convolutions: the two gradients must add up.
#[test]
fn gradients_of_a_shared_input_add_up() {
    let x = random(&[2, 2, 5, 5], DType::F64, 40);
    let (w1, w2) = (
        random(&[3, 2, 3, 3], DType::F64, 41),
        random(&[3, 2, 3, 3], DType::F64, 42),
    );
    let (t1, t2) = (
        random(&[2, 3, 4, 4], DType::F64, 43),
        random(&[2, 3, 4, 4], DType::F64, 44),
    );
    let loss = |x: &Tensor| {
        let convs = (conv2d(x, &w1, 1, 2).unwrap() + conv2d(x, &w2, 0, 1).unwrap()).unwrap();
        let transposed = (conv_transpose2d(x, &t1, 1, 1, 2).unwrap()
            + conv_transpose2d(x, &t2, 1, 1, 2).unwrap())
        .unwrap();
        (weighted_sum(convs) + weighted_sum(transposed)).unwrap()
    };
    let var = Var::from_tensor(&x).unwrap();
    let grads = loss(&var).backward().unwrap();
    let numeric = numeric_gradient(&x, |x| loss(x).to_scalar().unwrap());
    let err = relative_error(grads.get(&var).unwrap(), &numeric);
    assert!(err < 1e-6, "relative error {err}");
}

fn assert_shape_error(result: acgan::Result<Tensor>, argument: &str) {
    match result {
        Err(Error::Shape {
            argument: found, ..
        }) => assert_eq!(found, argument),
        other => panic!("expected a shape error for {argument}, got {other:?}"),
    }
}

#[test]
fn wrong_shapes_are_errors() {
    let x = random(&[2, 3, 6, 6], DType::F32, 50);
    let w = random(&[4, 3, 3, 3], DType::F32, 51);
    let flat = x.flatten_from(2).unwrap();
    assert_shape_error(conv2d(&flat, &w, 1, 1), "conv2d x");
    assert_shape_error(conv2d(&x, &w.narrow(1, 0, 2).unwrap(), 1, 1), "conv2d w");
    assert_shape_error(conv2d(&x, &w.narrow(3, 0, 2).unwrap(), 1, 1), "conv2d w");
    assert_shape_error(
        conv2d(&x, &w.to_dtype(DType::F64).unwrap(), 1, 1),
        "conv2d w",
    );
    let big = random(&[4, 3, 9, 9], DType::F32, 52);
    assert_shape_error(conv2d(&x, &big, 1, 1), "conv2d x");
    assert_shape_error(conv_transpose2d(&flat, &w, 1, 0, 2), "conv_transpose2d x");
    let t = random(&[4, 3, 3, 3], DType::F32, 53);
    assert_shape_error(conv_transpose2d(&x, &t, 1, 0, 2), "conv_transpose2d w");
    let one = random(&[2, 4, 1, 1], DType::F32, 54);
    assert_shape_error(conv_transpose2d(&one, &t, 2, 0, 1), "conv_transpose2d x");
    // A transposed convolution's kernel may be larger than its input.
    let wide = random(&[4, 3, 4, 4], DType::F32, 55);
    assert_eq!(
        conv_transpose2d(&one, &wide, 1, 0, 1).unwrap().dims(),
        [2, 3, 2, 2]
    );
}

#[test]
fn zero_stride_is_an_error() {
    let x = random(&[1, 3, 6, 6], DType::F32, 60);
    let w = random(&[3, 3, 3, 3], DType::F32, 61);
    assert!(matches!(conv2d(&x, &w, 1, 0), Err(Error::Config { .. })));
    assert!(matches!(
        conv_transpose2d(&x, &w, 1, 0, 0),
        Err(Error::Config { .. })
    ));
}
