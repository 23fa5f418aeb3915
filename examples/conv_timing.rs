//! Times one forward and backward pass of candle's convolutions and of `acgan::conv`'s, on the
//! CPU, for the layer shapes of the MNIST and CIFAR-10 presets.
//!
//! Run with `cargo run --release --example conv_timing`. It prints one line per layer: the
//! median milliseconds of candle's forward and backward, of ours, and the ratio. On the 2-core
//! machine this crate is developed on, ours is about twice as fast on every layer (1.7-2.7x).

use std::time::Instant;

use acgan::conv::{conv2d, conv_transpose2d};
use candle_core::{Device, Tensor, Var};
use clap::Parser;

/// Times candle's convolutions against `acgan::conv` on the presets' layer shapes.
#[derive(Parser)]
struct Args {
    /// Images per batch.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Timed forward and backward passes per layer and implementation.
    #[arg(long, default_value_t = 20)]
    iters: usize,
}

/// One layer: a convolution (`transpose` false) or a transposed convolution.
struct Layer {
    name: &'static str,
    transpose: bool,
    c_in: usize,
    c_out: usize,
    side: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    output_padding: usize,
}

const fn layer(name: &'static str, transpose: bool, c: (usize, usize), side: usize) -> Layer {
    Layer {
        name,
        transpose,
        c_in: c.0,
        c_out: c.1,
        side,
        kernel: if transpose { 4 } else { 3 },
        stride: 2,
        padding: 1,
        output_padding: 0,
    }
}

const LAYERS: [Layer; 6] = [
    layer("mnist G convT 96->48 7->14 k4", true, (96, 48), 7),
    layer("mnist G convT 48->1 14->28 k4", true, (48, 1), 14),
    layer("mnist D conv 1->32 28->14 k3", false, (1, 32), 28),
    layer("mnist D conv 32->64 14->7 k3", false, (32, 64), 14),
    layer("mnist D conv 64->128 7->4 k3", false, (64, 128), 7),
    Layer {
        kernel: 5,
        padding: 2,
        output_padding: 1,
        ..layer("cifar G convT 384->192 4->8 k5", true, (384, 192), 4)
    },
];

impl Layer {
    fn forward(&self, x: &Tensor, w: &Tensor, ours: bool) -> acgan::Result<Tensor> {
        let (p, op, s) = (self.padding, self.output_padding, self.stride);
        Ok(match (self.transpose, ours) {
            (false, false) => x.conv2d(w, p, s, 1, 1)?,
            (false, true) => conv2d(x, w, p, s)?,
            (true, false) => x.conv_transpose2d(w, p, op, s, 1)?,
            (true, true) => conv_transpose2d(x, w, p, op, s)?,
        })
    }

    fn inputs(&self, batch: usize) -> acgan::Result<(Var, Var)> {
        let (k, dev) = (self.kernel, &Device::Cpu);
        let x = Var::randn(0f32, 1.0, (batch, self.c_in, self.side, self.side), dev)?;
        let (a, b) = if self.transpose {
            (self.c_in, self.c_out)
        } else {
            (self.c_out, self.c_in)
        };
        Ok((x, Var::randn(0f32, 0.1, (a, b, k, k), dev)?))
    }

    /// Milliseconds of one forward and backward pass.
    fn time(&self, x: &Var, w: &Var, ours: bool) -> acgan::Result<f64> {
        let start = Instant::now();
        let grads = self.forward(x, w, ours)?.sum_all()?.backward()?;
        let elapsed = start.elapsed().as_secs_f64() * 1e3;
        drop(grads);
        Ok(elapsed)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> acgan::Result<()> {
    let args = Args::parse();
    println!(
        "{:<34} {:>10} {:>10} {:>7}",
        "layer, forward + backward", "candle ms", "ours ms", "ratio"
    );
    for layer in &LAYERS {
        let (x, w) = layer.inputs(args.batch)?;
        let (mut candle, mut ours) = (Vec::new(), Vec::new());
        for i in 0..args.iters.max(1) + 2 {
            let (c, o) = (layer.time(&x, &w, false)?, layer.time(&x, &w, true)?);
            if i >= 2 {
                candle.push(c);
                ours.push(o);
            }
        }
        let (c, o) = (median(candle), median(ours));
        println!("{:<34} {c:>10.2} {o:>10.2} {:>6.1}x", layer.name, c / o);
    }
    Ok(())
}
