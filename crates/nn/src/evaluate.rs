//! Evaluation on held-out samples: the RIM against the back-projection it
//! starts from and the evidence-optimized regularized inversion
//! ([`crate::baseline`]) with the same operator (true Θ in known-lens mode,
//! the encoder's Θ and PSF in joint mode), with the AstroRIM paper's Table 2
//! summary overall and per variant, flux errors, negative-pixel fractions,
//! coherence spectra against the truth (Morningstar et al. 2019, Fig. 5)
//! and, in joint mode, per-parameter errors of the encoder.

use crate::baseline::invert_batch;
use crate::data::Batch;
use crate::data::{batch, Operators};
use crate::forward::ForwardOperator;
use crate::joint::PsfSource;
use crate::known_lens::Iterate;
use crate::model::AstroRim;
use crate::refine::RefineSettings;
use crate::views::EncoderViews;
use astrorim_metrics::{coherence_bin_centres, coherence_spectrum, mse, normalize, psnr, ssim_gaussian, ssim_uniform7, Normalize};
use astrorim_sim::dataset::DatasetReader;
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::Serialize;
use std::f64::consts::{FRAC_PI_2, PI};

/// Methods compared, in report order.
pub const METHODS: [&str; 3] = ["rim", "back_projection", "inversion"];

/// Annuli of the coherence spectra, over (0, 0.5] cycles per source pixel.
pub const COHERENCE_BINS: usize = 24;

/// Scores of one sample under one method. MSE, SSIM and PSNR on images
/// normalized to [0, 1] (per example, as the paper), every method's
/// estimate first clamped at zero as the RIM's output is
/// ([`crate::known_lens::project_source`]), so that no method's sky is
/// lifted by its own negative pixels; the flux error is
/// (Σ estimate − Σ truth)/Σ truth and the negative fraction counts the
/// estimate's pixels below zero, both of the method's own output (signed
/// for the back-projection and the inversion).
#[derive(Debug, Clone, Serialize)]
pub struct SampleScore {
    pub index: u64,
    pub variant: String,
    pub method: String,
    pub mse: f64,
    pub ssim: f64,
    pub ssim_uniform7: f64,
    pub psnr: f64,
    pub flux_error: f64,
    pub negative_fraction: f64,
}

/// True and predicted Θ of one sample (joint mode).
#[derive(Debug, Clone, Serialize)]
pub struct ParameterErrors {
    pub index: u64,
    pub variant: String,
    pub truth: [f64; 9],
    pub predicted: [f64; 9],
    /// One normalized image unit in arcsec ((N/2)·pixel scale).
    pub unit_arcsec: f64,
}

/// Table-2 statistics of one metric: mean, population standard deviation,
/// median and 10th/90th percentiles (linear interpolation, as numpy).
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
        // Percentiles by linear interpolation between order statistics (numpy's default).
        let q = |p: f64| {
            let h = (v.len() - 1) as f64 * p;
            let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (h - lo as f64)
        };
        Summary { mean, std, median: q(0.5), p10: q(0.1), p90: q(0.9) }
    }
}

/// Per-method report.
#[derive(Debug, Clone, Serialize)]
pub struct MethodReport {
    /// "all" or a variant label.
    pub group: String,
    pub method: String,
    pub count: usize,
    pub ssim: Summary,
    pub ssim_uniform7: Summary,
    pub mse: Summary,
    pub psnr: Summary,
    pub abs_flux_error: Summary,
    /// Signed flux error: its median is the bias.
    pub flux_error: Summary,
    pub negative_fraction: Summary,
    pub frac_ssim_ge_090: f64,
    pub frac_ssim_ge_095: f64,
    pub frac_ssim_lt_080: f64,
}

/// A tensor's values as f32, row-major.
pub(crate) fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 tensor")
}

/// One evaluated sample, on the networks' scale (divided by the
/// observation's maximum pixel).
#[derive(Debug, Clone)]
pub struct Example {
    pub index: u64,
    pub variant: String,
    /// Image and source pixel sizes (arcsec).
    pub pixel_scale: f64,
    pub source_pixel_scale: f64,
    /// The observation, image_size².
    pub observed: Vec<f32>,
    /// The true source, source_size².
    pub truth: Vec<f32>,
    /// [rim, back-projection, inversion] as in [`METHODS`] (the inversion
    /// empty where it was not run).
    pub outputs: [Vec<f32>; 3],
}

/// The evaluated samples, in evaluation order.
pub type Reconstructions = Vec<Example>;

/// Everything an evaluation produced.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub scores: Vec<SampleScore>,
    pub parameters: Vec<ParameterErrors>,
    pub reconstructions: Reconstructions,
    /// Per method (in [`METHODS`] order): Σ of each sample's coherence with
    /// the truth per annulus, and the samples counted (NaN annuli left out).
    pub coherence: [Vec<(f64, f64, usize)>; 3],
    /// Samples whose inversion failed, with the reason (their source is zero).
    pub inversion_failures: Vec<(u64, String)>,
}

impl Evaluation {
    /// Mean coherence spectrum of each method: (k in cycles per source
    /// pixel, mean C), NaN where no sample counted (a method not run).
    pub fn mean_coherence(&self) -> [Vec<(f64, f64)>; 3] {
        std::array::from_fn(|mi| {
            self.coherence[mi].iter().map(|&(k, sum, count)| (k, if count > 0 { sum / count as f64 } else { f64::NAN })).collect()
        })
    }
}

/// What [`evaluate`] runs on.
#[derive(Debug, Clone, Default)]
pub struct EvaluateOptions<'a> {
    /// Samples to evaluate.
    pub count: usize,
    /// Of those, how many the inversion also solves.
    pub inversion_count: usize,
    /// A source image (source_size², values in [0, 1], row 0 at the bottom)
    /// that replaces every sample's source (the out-of-distribution test).
    pub replacement_source: Option<&'a [f64]>,
    /// Joint mode: refine the encoder's lens with the RIM as source solver
    /// before the final reconstruction ([`crate::refine`]).
    pub refine: Option<RefineSettings>,
    /// Joint mode: the views of each observation the encoder reads.
    pub encoder_views: EncoderViews,
}

/// Seed of the noise of re-observed samples ([`replace_source`]), with the
/// sample index as the stream.
const REPLACEMENT_NOISE_SEED: u64 = 0x7e57_0f_7e47;

/// The batch `b` with its sources replaced by `source` (source_size², in
/// [0, 1]) times each sample's true source peak, re-observed through the
/// sample's true lens, PSF and background (lens light) with white Gaussian
/// noise of its noise map (seeded by [`REPLACEMENT_NOISE_SEED`] and the
/// sample `indices`), and rescaled so that each observation's maximum
/// pixel is 1 again (the networks' scale). The test set's correlated noise,
/// cosmic rays and CTI are not redrawn: the replaced samples have white noise.
pub fn replace_source(b: Batch, op: &ForwardOperator, source: &[f64], indices: &[u64]) -> Batch {
    let [batch_size, _, m, _] = b.target.dims();
    let device = b.target.device();
    let peak = b.target.clone().reshape([batch_size, m * m]).max_dim(1).reshape([batch_size, 1, 1, 1]);
    let pattern: Vec<f32> = source.iter().map(|&v| v as f32).collect();
    let pattern = Tensor::<4>::from_data(TensorData::new(pattern, [1, 1, m, m]), &device);
    let target = pattern.expand([batch_size, 1, m, m]) * peak;
    let clean = op.forward(&target, &b.theta, &b.psf, Some(&b.background));
    let n = clean.dims()[2];
    let noise: Vec<f32> = indices
        .iter()
        .flat_map(|&index| {
            let mut rng = ChaCha8Rng::seed_from_u64(REPLACEMENT_NOISE_SEED);
            rng.set_stream(index);
            (0..n * n).map(move |_| StandardNormal.sample(&mut rng))
        })
        .collect();
    let noise = Tensor::<4>::from_data(TensorData::new(noise, [batch_size, 1, n, n]), &device);
    let observed = clean + noise * b.sigma.clone();
    let maximum = observed.clone().reshape([batch_size, n * n]).max_dim(1).clamp_min(1e-12);
    let rescale: Vec<f32> = to_vec(maximum.clone());
    let divisor = maximum.reshape([batch_size, 1, 1, 1]);
    Batch {
        observed: observed / divisor.clone(),
        sigma: b.sigma / divisor.clone(),
        background: b.background / divisor.clone(),
        target: target / divisor,
        scale: b.scale.iter().zip(&rescale).map(|(s, r)| s * r).collect(),
        theta: b.theta,
        psf: b.psf,
    }
}

/// One batch's model outputs, as plain values, before scoring.
struct Computed {
    rim: Vec<f32>,
    start: Vec<f32>,
    inverted: Vec<Option<crate::baseline::Inverted>>,
    truth: Vec<f32>,
    observed: Vec<f32>,
    theta_true: Vec<f32>,
    theta_pred: Option<Vec<f32>>,
}

/// Evaluates `count` samples: from the held-out test set (`astrorim
/// simulate --test-set`) the first ⌈count/chunks⌉ of every chunk, so that each
/// variant is equally represented; from any other dataset the last chunks
/// (those a training run holds out). The inversion, far slower than the
/// RIM on its 96² source grid (a minute per sample on 2 cores), runs on the
/// first ⌈`inversion_count`/chunks⌉ samples of each chunk.
///
/// With `options.replacement_source` every sample's source is replaced and
/// the sample re-observed ([`replace_source`]): the out-of-distribution test.
/// A chunk's batches run in parallel (rayon), the report assembled in order.
pub fn evaluate(
    model: &AstroRim,
    psf: PsfSource,
    reader: &DatasetReader,
    how: Iterate,
    options: &EvaluateOptions,
    device: &Device,
) -> Result<Evaluation, astrorim_sim::SimError> {
    let (count, inversion_count) = (options.count, options.inversion_count);
    let m = &reader.manifest;
    let mut out = Evaluation::default();
    for c in out.coherence.iter_mut() {
        *c = coherence_bin_centres(COHERENCE_BINS).into_iter().map(|k| (k, 0.0, 0)).collect();
    }
    let ms = m.source_size * m.source_size;
    let mut ops = Operators::new(m.image_size, m.source_size, device);
    let mut chunks = reader.available_chunks();
    let invert_per_chunk = inversion_count.div_ceil(chunks.len().max(1));
    let per_chunk = if m.generator == "test-set" {
        count.div_ceil(chunks.len().max(1))
    } else {
        chunks.reverse();
        usize::MAX
    };
    for &c in &chunks {
        if out.reconstructions.len() >= count {
            break;
        }
        let chunk = reader.load(c)?;
        let used = chunk.count.min(per_chunk);
        // Batches of up to 4 consecutive samples, split where their source fields of view differ.
        let work: Vec<(usize, (u32, Vec<usize>))> = (0..used)
            .step_by(4)
            .flat_map(|start| {
                let rows: Vec<usize> = (start..(start + 4).min(used)).collect();
                ops.groups(&chunk, &rows).into_iter().map(move |g| (start, g))
            })
            .collect();
        // The batches this chunk contributes, then their reconstructions in
        // parallel (each batch is independent; the results are gathered in
        // order, so the report does not depend on the thread count).
        let mut remaining = count - out.reconstructions.len();
        let items: Vec<(u32, Vec<usize>)> = work
            .into_iter()
            .map_while(|(start, (key, positions))| {
                (remaining > 0).then(|| {
                    let rows: Vec<usize> = positions.iter().map(|p| start + p).take(remaining).collect();
                    remaining -= rows.len();
                    (key, rows)
                })
            })
            .collect();
        let computed: Vec<Computed> = items
            .par_iter()
            .map(|(key, rows)| {
                let op = ops.get(*key);
                let mut b = batch(&chunk, rows, None, op, m.psf_size, device);
                if let Some(source) = options.replacement_source {
                    let indices: Vec<u64> = rows.iter().map(|&r| chunk.index[r]).collect();
                    b = replace_source(b, op, source, &indices);
                }
                let r = model.reconstruct_refined(op, &b, psf, how, options.encoder_views, options.refine);
                let (theta, psf) = r.prediction.as_ref().map_or((&b.theta, &b.psf), |(p, psf)| (&p.theta, psf));
                let selected: Vec<bool> = rows.iter().map(|&row| row < invert_per_chunk).collect();
                let inverted =
                    invert_batch(&selected, &b.observed, &b.sigma, &b.background, theta, psf, m.source_size, f32::from_bits(*key) as f64);
                Computed {
                    rim: to_vec(r.source()),
                    start: to_vec(r.start.clone()),
                    inverted,
                    truth: to_vec(b.target.clone()),
                    observed: to_vec(b.observed.clone()),
                    theta_true: to_vec(b.theta.clone()),
                    theta_pred: r.prediction.as_ref().map(|(p, _)| to_vec(p.theta.clone())),
                }
            })
            .collect();
        for ((_, rows), c) in items.iter().zip(computed) {
            let rows = rows.as_slice();
            let mut inversion = Vec::with_capacity(rows.len() * ms);
            for (&row, result) in rows.iter().zip(c.inverted) {
                match result {
                    Some(Ok((source, _))) => inversion.extend(source),
                    Some(Err(e)) => {
                        out.inversion_failures.push((chunk.index[row], e));
                        inversion.extend(std::iter::repeat_n(0.0, ms));
                    }
                    None => inversion.extend(std::iter::repeat_n(f32::NAN, ms)),
                }
            }
            let methods = [c.rim, c.start, inversion];
            let (truth, observed, theta_true, theta_pred) = (c.truth, c.observed, c.theta_true, c.theta_pred);
            for (k, &row) in rows.iter().enumerate() {
                let t: Vec<f64> = truth[k * ms..(k + 1) * ms].iter().map(|&v| v as f64).collect();
                let true_flux: f64 = t.iter().sum();
                let tn = normalize(&t, Normalize::MinMax);
                let mut outs: [Vec<f32>; 3] = Default::default();
                for (mi, est) in methods.iter().enumerate() {
                    let e: Vec<f64> = est[k * ms..(k + 1) * ms].iter().map(|&v| v as f64).collect();
                    if e[0].is_nan() {
                        // Not inverted (beyond `inversion_count`).
                        continue;
                    }
                    let projected: Vec<f64> = e.iter().map(|&v| v.max(0.0)).collect();
                    let en = normalize(&projected, Normalize::MinMax);
                    out.scores.push(SampleScore {
                        index: chunk.index[row],
                        variant: chunk.variant[row].clone(),
                        method: METHODS[mi].into(),
                        mse: mse(&tn, &en),
                        ssim: ssim_gaussian(&tn, &en, m.source_size, m.source_size, 1.0),
                        ssim_uniform7: ssim_uniform7(&tn, &en, m.source_size, m.source_size, 1.0),
                        psnr: psnr(&tn, &en, 1.0),
                        flux_error: (e.iter().sum::<f64>() - true_flux) / true_flux.abs().max(1e-12),
                        negative_fraction: e.iter().filter(|&&v| v < 0.0).count() as f64 / e.len() as f64,
                    });
                    for (acc, (_, c)) in
                        out.coherence[mi].iter_mut().zip(coherence_spectrum(&t, &e, m.source_size, m.source_size, COHERENCE_BINS))
                    {
                        if c.is_finite() {
                            acc.1 += c;
                            acc.2 += 1;
                        }
                    }
                    outs[mi] = est[k * ms..(k + 1) * ms].to_vec();
                }
                if let Some(pred) = &theta_pred {
                    let pick = |v: &[f32]| -> [f64; 9] { std::array::from_fn(|j| v[k * 9 + j] as f64) };
                    out.parameters.push(ParameterErrors {
                        index: chunk.index[row],
                        variant: chunk.variant[row].clone(),
                        truth: pick(&theta_true),
                        predicted: pick(pred),
                        unit_arcsec: m.image_size as f64 / 2.0 * chunk.pixel_scale[row],
                    });
                }
                let npix = m.image_size * m.image_size;
                out.reconstructions.push(Example {
                    index: chunk.index[row],
                    variant: chunk.variant[row].clone(),
                    pixel_scale: chunk.pixel_scale[row],
                    source_pixel_scale: chunk.source_pixel_scale[row],
                    observed: observed[k * npix..(k + 1) * npix].to_vec(),
                    truth: truth[k * ms..(k + 1) * ms].to_vec(),
                    outputs: outs,
                });
            }
        }
    }
    Ok(out)
}

/// The encoder's accuracy on one group of samples (joint mode): median and
/// 90th percentile of each error. θ_E relative (|Δb|/b), q and γ absolute,
/// the angles φ and γ_φ absolute in degrees folded to their period 180°, the
/// centre offset in arcsec.
#[derive(Debug, Clone, Serialize)]
pub struct ParameterReport {
    /// "all" or a variant label.
    pub group: String,
    pub count: usize,
    /// (error name, median, P90).
    pub errors: Vec<(String, f64, f64)>,
}

/// The error names of [`ParameterReport`], in order.
pub const PARAMETER_ERRORS: [&str; 6] = ["theta_E relative", "q", "phi [deg]", "gamma", "gamma_phi [deg]", "centre [arcsec]"];

/// The groups a report has: "all", then each variant present, sorted.
fn report_groups<'a>(variants: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut groups = vec!["all".to_string()];
    for v in variants {
        if !groups.iter().any(|g| g == v) {
            groups.push(v.to_string());
        }
    }
    groups[1..].sort();
    groups
}

/// Encoder accuracy over all samples and per variant (empty without predictions).
pub fn summarize_parameters(p: &[ParameterErrors]) -> Vec<ParameterReport> {
    let fold_deg = |d: f64| ((d + FRAC_PI_2).rem_euclid(PI) - FRAC_PI_2).abs().to_degrees();
    let errors = |x: &ParameterErrors| -> [f64; 6] {
        let (t, e) = (&x.truth, &x.predicted);
        [
            ((e[0] - t[0]) / t[0]).abs(),
            (e[1] - t[1]).abs(),
            fold_deg(e[2] - t[2]),
            (e[5] - t[5]).abs(),
            fold_deg(e[6] - t[6]),
            (e[3] - t[3]).hypot(e[4] - t[4]) * x.unit_arcsec,
        ]
    };
    report_groups(p.iter().map(|x| x.variant.as_str()))
        .into_iter()
        .filter_map(|group| {
            let rows: Vec<[f64; 6]> = p.iter().filter(|x| group == "all" || x.variant == group).map(errors).collect();
            (!rows.is_empty()).then(|| {
                let errors = PARAMETER_ERRORS
                    .iter()
                    .enumerate()
                    .map(|(j, name)| {
                        let s = Summary::of(&rows.iter().map(|r| r[j]).collect::<Vec<_>>());
                        (name.to_string(), s.median, s.p90)
                    })
                    .collect();
                ParameterReport { group, count: rows.len(), errors }
            })
        })
        .collect()
}

/// Table-2 summaries per method, for all samples (group "all") and per variant.
pub fn summarize(scores: &[SampleScore]) -> Vec<MethodReport> {
    let groups = report_groups(scores.iter().map(|s| s.variant.as_str()));
    let mut reports = Vec::new();
    for group in &groups {
        for &method in &METHODS {
            let s: Vec<&SampleScore> = scores.iter().filter(|s| s.method == method && (group == "all" || &s.variant == group)).collect();
            if s.is_empty() {
                // A method not run on this group (the inversion beyond --inversion-samples).
                continue;
            }
            let ssim: Vec<f64> = s.iter().map(|x| x.ssim).collect();
            let frac = |f: &dyn Fn(f64) -> bool| ssim.iter().filter(|&&v| f(v)).count() as f64 / ssim.len().max(1) as f64;
            let of = |f: &dyn Fn(&SampleScore) -> f64| Summary::of(&s.iter().map(|x| f(x)).collect::<Vec<_>>());
            reports.push(MethodReport {
                group: group.clone(),
                method: method.into(),
                count: s.len(),
                ssim: Summary::of(&ssim),
                ssim_uniform7: of(&|x| x.ssim_uniform7),
                mse: of(&|x| x.mse),
                psnr: of(&|x| x.psnr),
                abs_flux_error: of(&|x| x.flux_error.abs()),
                flux_error: of(&|x| x.flux_error),
                negative_fraction: of(&|x| x.negative_fraction),
                frac_ssim_ge_090: frac(&|v| v >= 0.90),
                frac_ssim_ge_095: frac(&|v| v >= 0.95),
                frac_ssim_lt_080: frac(&|v| v < 0.80),
            });
        }
    }
    reports
}

/// The summary as Markdown tables in the form of the paper's Table 2, one per group.
pub fn markdown(reports: &[MethodReport], parameters: &[ParameterReport]) -> String {
    let mut s = String::new();
    let mut group = "";
    for r in reports {
        if r.group != group {
            group = &r.group;
            s.push_str(&format!("\n### {group}\n\n| method | N | SSIM mean ± std | SSIM median [P10, P90] | SSIM₇ mean | MSE mean ± std | MSE median [P10, P90] | PSNR median | flux error median (abs) | flux bias (median) | negative pixels (mean) | SSIM ≥ 0.90 | ≥ 0.95 | < 0.80 |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"));
        }
        s.push_str(&format!(
            "| {} | {} | {:.3} ± {:.3} | {:.3} [{:.3}, {:.3}] | {:.3} | {:.2e} ± {:.2e} | {:.2e} [{:.2e}, {:.2e}] | {:.1} | {:.3} | {:+.3} | {:.2} | {:.0}% | {:.0}% | {:.0}% |\n",
            r.method, r.count, r.ssim.mean, r.ssim.std, r.ssim.median, r.ssim.p10, r.ssim.p90, r.ssim_uniform7.mean, r.mse.mean, r.mse.std, r.mse.median, r.mse.p10, r.mse.p90,
            r.psnr.median, r.abs_flux_error.median, r.flux_error.median, r.negative_fraction.mean, 100.0 * r.frac_ssim_ge_090, 100.0 * r.frac_ssim_ge_095, 100.0 * r.frac_ssim_lt_080
        ));
    }
    if !parameters.is_empty() {
        s.push_str("\n### accuracy of the lens the RIM used (the encoder's, or refined; median / P90 of the absolute error; θ_E relative, angles folded to 180°)\n\n| group | N |");
        for name in PARAMETER_ERRORS {
            s.push_str(&format!(" {name} |"));
        }
        s.push_str(&format!("\n|---|---|{}\n", "---|".repeat(PARAMETER_ERRORS.len())));
        for r in parameters {
            s.push_str(&format!("| {} | {} |", r.group, r.count));
            for (name, median, p90) in &r.errors {
                if name.starts_with("theta_E") {
                    s.push_str(&format!(" {:.1} % / {:.1} % |", 100.0 * median, 100.0 * p90));
                } else {
                    s.push_str(&format!(" {median:.3} / {p90:.3} |"));
                }
            }
            s.push('\n');
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::{summarize_parameters, ParameterErrors, Summary};

    #[test]
    fn encoder_errors_fold_angles_and_convert_the_centre() {
        let deg = f64::to_radians;
        let sample = |variant: &str, predicted_b: f64| ParameterErrors {
            index: 0,
            variant: variant.into(),
            truth: [0.5, 0.7, deg(80.0), 0.0, 0.0, 0.05, 0.0, 0.0, 1.0],
            predicted: [predicted_b, 0.75, deg(-95.0), 0.03, 0.04, 0.02, deg(179.0), 0.0, 1.0],
            unit_arcsec: 2.4,
        };
        let reports = summarize_parameters(&[sample("v1", 0.55), sample("v2", 0.4)]);
        let groups: Vec<(&str, usize)> = reports.iter().map(|r| (r.group.as_str(), r.count)).collect();
        assert_eq!(groups, [("all", 2), ("v1", 1), ("v2", 1)]);
        // θ_E 10 % and 20 %; q 0.05; φ 175° apart is 5° (period 180°); γ 0.03; γ_φ 1°; centre 0.05 × 2.4″.
        let want = [0.1, 0.05, 5.0, 0.03, 1.0, 0.12];
        for ((name, median, p90), w) in reports[1].errors.iter().zip(want) {
            assert!((median - w).abs() < 1e-9 && (p90 - w).abs() < 1e-9, "{name}: {median} {p90} vs {w}");
        }
        assert!((reports[0].errors[0].1 - 0.15).abs() < 1e-12 && (reports[0].errors[0].2 - 0.19).abs() < 1e-12);
    }

    #[test]
    fn summaries_equal_numpy() {
        // numpy 2.x: v.mean(), v.std(), np.percentile(v, [10, 50, 90]) for an odd and an even count.
        let v = [0.91, 0.42, 0.77, 0.95, 0.13, 0.66, 0.88, 0.5, 0.71, 0.99, 0.35];
        for (values, want) in [
            (&v[..], [0.6609090909090909, 0.26606405740841454, 0.35, 0.71, 0.95]),
            (&v[..10], [0.692, 0.2592990551467552, 0.391, 0.74, 0.954]),
        ] {
            let s = Summary::of(values);
            for (got, want) in [s.mean, s.std, s.p10, s.median, s.p90].iter().zip(want) {
                assert!((got - want).abs() < 1e-12, "{got} vs numpy {want}");
            }
        }
    }
}
