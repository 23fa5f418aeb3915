//! The report page.

use std::fmt::Write;

use crate::Figures;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn percent(x: f64) -> String {
    if x.is_nan() {
        "–".into()
    } else {
        format!("{:.1}%", 100.0 * x)
    }
}

fn score(x: Option<f64>) -> String {
    x.map_or_else(|| "–".into(), |v| format!("{v:.4}"))
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}\
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}\
th{background:#f3f3f3}figure{display:inline-block;margin:0 1.5em 1.5em 0;vertical-align:top}\
figcaption{font-size:90%;color:#555;max-width:520px}img.px{image-rendering:pixelated}\
.flag{color:#b00}";

/// The whole page: every figure of the report, in the order a reader needs them.
pub fn page(f: &Figures, has_log: bool) -> String {
    let mut h = String::new();
    let _ = write!(h, "<!doctype html><html><head><meta charset=\"utf-8\"><title>AC-GAN evaluation</title><style>{STYLE}</style></head><body>");
    let _ = write!(
        h,
        "<h1>AC-GAN evaluation</h1><p>Generator: <code>{}</code><br>Real data: <code>{}</code><br>",
        escape(&f.checkpoint),
        escape(&f.data)
    );
    let _ = write!(
        h,
        "Judging classifier: <code>{}</code>, accuracy {} on the real test split.<br>Evaluation took {:.1} s.</p>",
        escape(&f.classifier),
        percent(f.classifier_test_accuracy),
        f.seconds
    );
    summary(&mut h, f);
    pictures(&mut h);
    class_table(&mut h, f);
    charts(&mut h, f, has_log);
    h.push_str("</body></html>\n");
    h
}

fn summary(h: &mut String, f: &Figures) {
    let (g, r) = (&f.inception_score_generated, &f.inception_score_real);
    let _ = write!(
        h,
        "<h2>Summary</h2><table><tr><th>measure</th><th>generated</th><th>real (test split)</th></tr>\
         <tr><td>classifier accuracy</td><td>{}</td><td>{}</td></tr>\
         <tr><td>Inception Score (10 splits, mean ± std)</td><td>{:.3} ± {:.3}</td><td>{:.3} ± {:.3}</td></tr>\
         <tr><td>Fréchet distance to the real test split (classifier features)</td><td>{:.4}</td><td>0</td></tr>\
         <tr><td>classes more diverse than the least diverse real class</td><td>{}</td><td>–</td></tr></table>",
        percent(f.generated_accuracy.overall),
        percent(f.real_accuracy.overall),
        g.mean,
        g.std,
        r.mean,
        r.std,
        f.frechet_distance,
        percent(f.diversity.share_of_generated_below),
    );
}

fn pictures(h: &mut String) {
    let figures = [
        ("samples.png", 420, "Samples: one row per class."),
        ("class_swap.png", 420, "Class swap: one noise vector per column, one class per row. Style (slant, width) should stay along a column while the class changes."),
        ("interpolation_linear.png", 420, "Linear interpolation between two noise vectors, class fixed per row. Smooth change suggests the generator has not memorised."),
        ("interpolation_spherical.png", 420, "Spherical interpolation between the same noise vectors."),
        ("nearest_neighbours.png", 252, "Memorisation check: each sample (left) and its five nearest training images by mean absolute pixel difference."),
    ];
    h.push_str("<h2>Samples</h2>");
    for (file, width, caption) in figures {
        let _ = write!(
            h,
            "<figure><img class=\"px\" src=\"{file}\" style=\"width:{width}px\"><figcaption>{caption}</figcaption></figure>"
        );
    }
}

fn class_table(h: &mut String, f: &Figures) {
    h.push_str("<h2>Per class</h2><table><tr><th>class</th><th>accuracy, generated</th><th>accuracy, real</th><th>MS-SSIM, generated</th><th>MS-SSIM, real</th></tr>");
    for (c, name) in f.class_names.iter().enumerate() {
        let (gen, real) = (f.diversity.generated[c], f.diversity.real[c]);
        let collapsed = gen.is_some_and(|g| g > f.diversity.least_diverse_real);
        let flag = if collapsed { " class=\"flag\"" } else { "" };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td{flag}>{}</td><td>{}</td></tr>",
            escape(name),
            percent(f.generated_accuracy.per_class[c]),
            percent(f.real_accuracy.per_class[c]),
            score(gen),
            score(real)
        );
    }
    let _ = write!(
        h,
        "</table><p>MS-SSIM is the mean over 100 random pairs of distinct images of a class (higher means less diverse). \
         The least diverse real class scores {:.4}; generated scores above it are marked.</p>",
        f.diversity.least_diverse_real
    );
}

fn charts(h: &mut String, f: &Figures, has_log: bool) {
    h.push_str("<h2>Charts</h2>");
    let _ = write!(h, "<figure><img src=\"diversity.svg\"><figcaption>Generated against real MS-SSIM per class; the grey line is equality, the red line the least diverse real class.</figcaption></figure>");
    let points: Vec<String> = f
        .resolution_generated
        .iter()
        .zip(&f.resolution_real)
        .map(|(g, r)| {
            format!(
                "{} px: {} / {}",
                g.size,
                percent(g.accuracy),
                percent(r.accuracy)
            )
        })
        .collect();
    let _ = write!(h, "<figure><img src=\"resolution.svg\"><figcaption>Accuracy after resizing down and back up (generated / real): {}.</figcaption></figure>", points.join(", "));
    if has_log {
        h.push_str("<figure><img src=\"losses.svg\"><figcaption>Losses during training (means over 20 steps).</figcaption></figure>");
        h.push_str("<figure><img src=\"accuracies.svg\"><figcaption>Discriminator and class-head accuracies during training.</figcaption></figure>");
    }
}
