//! Known-lens evaluation: the RIM against the back-projection and Tikhonov
//! baselines on held-out samples, with the AstroRIM paper's Table 2 summary.

use crate::forward::ForwardOperator;
use crate::known_lens::{back_projection, batch, reconstruct_from, source_half_width, tikhonov};
use crate::metrics::{mse, normalize, ssim_gaussian, ssim_uniform7, Normalize};
use crate::rim::Rim;
use astrorim_sim::dataset::DatasetReader;
use burn::tensor::{Device, Tensor};
use serde::Serialize;

/// Methods compared, in report order.
pub const METHODS: [&str; 3] = ["rim", "back_projection", "tikhonov"];

/// Scores of one sample under one method (images normalized to [0, 1]).
#[derive(Debug, Clone, Serialize)]
pub struct SampleScore {
    pub index: u64,
    pub method: String,
    pub mse: f64,
    pub ssim: f64,
    pub ssim_uniform7: f64,
}

/// Table-2 statistics of one metric.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub mean: f64,
    pub std: f64,
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
}

impl Summary {
    pub fn of(values: &[f64]) -> Summary {
        let mut v = values.to_vec();
        v.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        Summary { mean, std, median: q(0.5), p10: q(0.1), p90: q(0.9) }
    }
}

/// Per-method report.
#[derive(Debug, Clone, Serialize)]
pub struct MethodReport {
    pub method: String,
    pub count: usize,
    pub ssim: Summary,
    pub ssim_uniform7: Summary,
    pub mse: Summary,
    pub frac_ssim_ge_090: f64,
    pub frac_ssim_ge_095: f64,
    pub frac_ssim_lt_080: f64,
}

fn to_vec(t: Tensor<4>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().expect("f32 tensor")
}

/// Reconstructions of one batch: (index, truth, [rim, back-projection, tikhonov]) per sample.
pub type Reconstructions = Vec<(u64, Vec<f32>, [Vec<f32>; 3])>;

/// Evaluates `count` samples from the dataset's last chunks.
pub fn evaluate(
    rim: &Rim,
    reader: &DatasetReader,
    iterations: usize,
    count: usize,
    device: &Device,
) -> Result<(Vec<SampleScore>, Reconstructions), astrorim_sim::SimError> {
    let m = &reader.manifest;
    let mut scores = Vec::new();
    let mut recon = Vec::new();
    for &c in reader.available_chunks().iter().rev() {
        if recon.len() >= count {
            break;
        }
        let chunk = reader.load(c)?;
        let op = ForwardOperator::new(m.image_size, 1, m.source_size, source_half_width(&chunk, m.image_size, m.source_size), device);
        for start in (0..chunk.count).step_by(4) {
            if recon.len() >= count {
                break;
            }
            let rows: Vec<usize> = (start..(start + 4).min(chunk.count)).take(count - recon.len()).collect();
            let b = batch(&chunk, &rows, &op, m.psf_size, device);
            // The back-projection is both a baseline and the RIM's starting point.
            let f = b.operator(&op);
            let bp = back_projection(&f, &b);
            let rim_x = reconstruct_from(rim, &f, &b, bp.clone(), iterations).pop().expect("≥ 1 iteration");
            let methods = [to_vec(rim_x), to_vec(bp), to_vec(tikhonov(&f, &b, 1e-2))];
            let truth = to_vec(b.target.clone());
            let ms = m.source_size * m.source_size;
            for (k, &r) in rows.iter().enumerate() {
                let t: Vec<f64> = truth[k * ms..(k + 1) * ms].iter().map(|&v| v as f64).collect();
                let tn = normalize(&t, Normalize::MinMax);
                let mut outs: [Vec<f32>; 3] = Default::default();
                for (mi, est) in methods.iter().enumerate() {
                    let e: Vec<f64> = est[k * ms..(k + 1) * ms].iter().map(|&v| v as f64).collect();
                    let en = normalize(&e, Normalize::MinMax);
                    scores.push(SampleScore {
                        index: chunk.index[r],
                        method: METHODS[mi].into(),
                        mse: mse(&tn, &en),
                        ssim: ssim_gaussian(&tn, &en, m.source_size, m.source_size, 1.0),
                        ssim_uniform7: ssim_uniform7(&tn, &en, m.source_size, m.source_size, 1.0),
                    });
                    outs[mi] = est[k * ms..(k + 1) * ms].to_vec();
                }
                recon.push((chunk.index[r], truth[k * ms..(k + 1) * ms].to_vec(), outs));
            }
        }
    }
    Ok((scores, recon))
}

/// Table-2 summaries per method.
pub fn summarize(scores: &[SampleScore]) -> Vec<MethodReport> {
    METHODS
        .iter()
        .map(|&method| {
            let s: Vec<&SampleScore> = scores.iter().filter(|s| s.method == method).collect();
            let ssim: Vec<f64> = s.iter().map(|x| x.ssim).collect();
            let frac = |f: &dyn Fn(f64) -> bool| ssim.iter().filter(|&&v| f(v)).count() as f64 / ssim.len().max(1) as f64;
            MethodReport {
                method: method.into(),
                count: s.len(),
                ssim: Summary::of(&ssim),
                ssim_uniform7: Summary::of(&s.iter().map(|x| x.ssim_uniform7).collect::<Vec<_>>()),
                mse: Summary::of(&s.iter().map(|x| x.mse).collect::<Vec<_>>()),
                frac_ssim_ge_090: frac(&|v| v >= 0.90),
                frac_ssim_ge_095: frac(&|v| v >= 0.95),
                frac_ssim_lt_080: frac(&|v| v < 0.80),
            }
        })
        .collect()
}

/// The summary as a Markdown table in the form of the paper's Table 2.
pub fn markdown(reports: &[MethodReport]) -> String {
    let mut s = String::from("| method | N | SSIM mean ± std | SSIM median [P10, P90] | SSIM₇ mean | MSE mean ± std | MSE median [P10, P90] | SSIM ≥ 0.90 | ≥ 0.95 | < 0.80 |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for r in reports {
        s.push_str(&format!(
            "| {} | {} | {:.3} ± {:.3} | {:.3} [{:.3}, {:.3}] | {:.3} | {:.2e} ± {:.2e} | {:.2e} [{:.2e}, {:.2e}] | {:.0}% | {:.0}% | {:.0}% |\n",
            r.method, r.count, r.ssim.mean, r.ssim.std, r.ssim.median, r.ssim.p10, r.ssim.p90, r.ssim_uniform7.mean, r.mse.mean, r.mse.std, r.mse.median, r.mse.p10, r.mse.p90,
            100.0 * r.frac_ssim_ge_090, 100.0 * r.frac_ssim_ge_095, 100.0 * r.frac_ssim_lt_080
        ));
    }
    s
}
