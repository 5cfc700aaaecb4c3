//! `astrorim train --config FILE.toml` and `astrorim evaluate --model DIR --data DIR --out DIR`.

use anyhow::{anyhow, Result};
use astrorim_io::atomic::write_bytes;
use astrorim_io::figure::{LinePlot, Series};
use astrorim_io::panel::{save_panel, Cell, ImageCell, Scaling};
use astrorim_io::text::rasterize_text;
use astrorim_nn::checkpoint::{default_model_dir, load_checkpoint, load_forward_model};
use astrorim_nn::evaluate::{evaluate, markdown, summarize, summarize_parameters, EvaluateOptions, Example, METHODS};
use astrorim_nn::known_lens::Iterate;
use astrorim_nn::parametric::MAX_COMPONENTS;
use astrorim_nn::refine::RefineSettings;
use astrorim_nn::train::{train, TrainConfig};
use astrorim_nn::views::EncoderViews;
use astrorim_sim::dataset::DatasetReader;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args)]
pub struct TrainArgs {
    /// Training configuration (TOML: data, out, mode, steps, batch_size, learning rates, λ's, …; see the README).
    #[arg(long)]
    config: PathBuf,
}

pub fn run_train(args: TrainArgs) -> Result<()> {
    let config = TrainConfig::from_toml(&args.config)?;
    let device = astrorim_nn::device::default_device();
    let bar = ProgressBar::new(config.steps as u64);
    if std::io::stderr().is_terminal() {
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] step {pos}/{len}  {msg}  ETA {eta}").expect("valid template"),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let (meta, _) = train(&config, &device, &|r| {
        bar.set_position(r.step as u64);
        bar.set_message(format!("loss {:.3e}  lr {:.2e}  {:.2} samples/s", r.loss, r.learning_rate_rim, r.samples_per_second));
    })?;
    bar.finish_and_clear();
    eprintln!(
        "{}: step {}, train loss {:.4e}, validation loss {:.4e} (reconstruction MSE {:.4e})",
        config.out.display(),
        meta.step,
        meta.train_loss,
        meta.validation_loss,
        meta.validation_mse
    );
    Ok(())
}

#[derive(Args)]
pub struct EvaluateArgs {
    /// Model directory (model.safetensors + model.json, as `astrorim train`
    /// writes); default: the shipped model (models/default, or $ASTRORIM_MODEL).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Dataset directory; the last chunks are used.
    #[arg(long)]
    data: PathBuf,
    /// Report directory: per_sample.csv, parameters.csv (joint), summary.json, summary.md, coherence.csv, coherence.png, examples.png.
    #[arg(long)]
    out: PathBuf,
    /// Samples to evaluate.
    #[arg(short = 'n', long, default_value_t = 32)]
    count: usize,
    /// Of those, how many the evidence-optimized inversion baseline also
    /// solves (spread evenly over the dataset's chunks; about a minute each
    /// on 2 cores with a 96² source grid).
    #[arg(long, default_value_t = 12)]
    inversion_samples: usize,
    /// Out-of-distribution test (Morningstar et al. 2019, Fig. 10): every
    /// sample's source replaced by this text, rasterized on the source grid
    /// and scaled to the true source's peak, then re-observed through the
    /// sample's true lens, PSF and lens light with white noise of its noise
    /// map (a fixed seed per sample).
    #[arg(long)]
    source_text: Option<String>,
    /// With a joint model: run its RIM with the true lens (Θ, PSF and lens
    /// light) instead of its encoder's, the known-lens score of Table 2.
    #[arg(long, conflicts_with = "encoder")]
    known_lens: bool,
    /// Joint mode with the RIM of `--model` and the encoder (and PSF model)
    /// of this model directory, e.g. a known-lens RIM with an encoder-stage
    /// model before the two are fine-tuned together.
    #[arg(long)]
    encoder: Option<PathBuf>,
    /// Joint mode: refine the encoder's lens with this many gradient steps
    /// on the data's χ², the RIM re-solving the source at each (Morningstar
    /// et al. 2019, Algorithm 1); 0 reports the encoder's lens as it is.
    #[arg(long, default_value_t = 0)]
    refine_steps: usize,
    /// Multiplies the refinement's step sizes.
    #[arg(long, default_value_t = 1.0)]
    refine_step_scale: f64,
    /// Joint mode: before the RIM's steps, fit the lens with a parametric
    /// (exponential) source in this many gradient steps from five starts in
    /// θ_E (0.7–1.3× the encoder's); 0 skips this stage.
    #[arg(long, default_value_t = 0)]
    refine_parametric_steps: usize,
    /// Source components of the parametric stage (1–3): each beyond the
    /// first starts on what the model leaves unexplained and adds
    /// refine-parametric-steps steps.
    #[arg(long, default_value_t = 1)]
    refine_parametric_components: usize,
    /// Joint mode: after the parametric stage (if any), refine the lens by
    /// the Bayesian evidence of the regularized source inversion (the
    /// real-lens pipeline's search, ~10 s a sample), before the RIM's steps.
    #[arg(long)]
    refine_evidence: bool,
    /// Joint mode: the encoder reads each observation in its eight flips
    /// and quarter turns, their lenses averaged (8), or once as it is (1).
    #[arg(long, default_value_t = 8, value_parser = views_parser())]
    encoder_views: usize,
}

/// A views flag: 1 or 8.
fn views_parser() -> impl clap::builder::TypedValueParser<Value = usize> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["1", "8"]).map(|v| v.parse::<usize>().expect("1 or 8"))
}

pub fn run_evaluate(args: EvaluateArgs) -> Result<()> {
    let device = astrorim_nn::device::default_device();
    let model_dir = args.model.clone().unwrap_or_else(default_model_dir);
    let (mut model, meta) = load_checkpoint(&model_dir, &device)?;
    if args.known_lens {
        model.forward = None;
    }
    let mut psf = meta.config.psf;
    if let Some(dir) = &args.encoder {
        let (forward, encoder_psf) = load_forward_model(dir, meta.psf_size, &device)?;
        model.forward = Some(forward);
        psf = encoder_psf;
    }
    if !(1..=MAX_COMPONENTS).contains(&args.refine_parametric_components) {
        return Err(anyhow!("refine-parametric-components: must be in 1..={MAX_COMPONENTS}, not {}", args.refine_parametric_components));
    }
    let (components, plural) = (args.refine_parametric_components, if args.refine_parametric_components == 1 { "" } else { "s" });
    let refining = args.refine_steps > 0 || args.refine_parametric_steps > 0 || args.refine_evidence;
    if refining && model.forward.is_none() {
        let flag = if args.refine_steps > 0 {
            "refine-steps"
        } else if args.refine_parametric_steps > 0 {
            "refine-parametric-steps"
        } else {
            "refine-evidence"
        };
        return Err(anyhow!("{flag}: only the joint mode has an encoder's lens to refine (give a joint model or --encoder)"));
    }
    let encoder_lens = if args.encoder_views == 8 { "encoder's lens, the mean of 8 flips and turns," } else { "encoder's lens" };
    let mut lens = match (model.forward.is_some(), args.refine_parametric_steps, args.refine_steps) {
        (false, _, _) => "known lens".to_string(),
        (true, 0, 0) => format!("joint ({})", encoder_lens.trim_end_matches(',')),
        (true, 0, steps) => format!("joint ({encoder_lens} refined in {steps} steps, the RIM as source solver)"),
        (true, parametric, 0) => format!(
            "joint ({encoder_lens} fitted with a parametric source ({components} component{plural}) in {parametric} steps from 5 starts in θ_E, kept where the RIM's χ² is lower)"
        ),
        (true, parametric, steps) => format!(
            "joint ({encoder_lens} fitted with a parametric source ({components} component{plural}) in {parametric} steps from 5 starts in θ_E, kept where the RIM's χ² is lower, then refined in {steps} steps, the RIM as source solver)"
        ),
    };
    if args.refine_evidence && model.forward.is_some() {
        lens.push_str(", the lens then refined by the evidence of the regularized source inversion before the RIM's source");
    }
    let reader = DatasetReader::open(&args.data)?;
    let m = &reader.manifest;
    if (m.image_size, m.source_size, m.psf_size) != (meta.image_size, meta.source_size, meta.psf_size) {
        return Err(anyhow!(
            "{}: dataset shapes differ from the model's ({}, {}, {})",
            args.data.display(),
            meta.image_size,
            meta.source_size,
            meta.psf_size
        ));
    }
    if args.count == 0 {
        return Err(anyhow!("n: must be at least 1"));
    }
    if !(args.refine_step_scale > 0.0 && args.refine_step_scale.is_finite()) {
        return Err(anyhow!("refine-step-scale: must be a positive number"));
    }
    std::fs::create_dir_all(&args.out).map_err(|e| anyhow!("{}: cannot create: {e}", args.out.display()))?;
    let replacement = match &args.source_text {
        Some(text) => Some(rasterize_text(text, m.source_size).map_err(|e| anyhow!("source-text: {e}"))?),
        None => None,
    };
    let options = EvaluateOptions {
        count: args.count,
        inversion_count: args.inversion_samples.min(args.count),
        replacement_source: replacement.as_deref(),
        refine: refining.then_some(RefineSettings {
            steps: args.refine_steps,
            step_scale: args.refine_step_scale,
            parametric_steps: args.refine_parametric_steps,
            parametric_components: args.refine_parametric_components,
            evidence: args.refine_evidence,
        }),
        encoder_views: EncoderViews::from_count(args.encoder_views).expect("parsed as 1 or 8"),
    };
    let how = Iterate { lens_gradient: false, ..meta.config.iterate() };
    let result = evaluate(&model, psf, &reader, how, &options, &device)?;
    let mut csv = String::from("index,variant,method,mse,ssim,ssim_uniform7,psnr,flux_error,negative_fraction\n");
    for s in &result.scores {
        csv.push_str(&format!(
            "{},{},{},{:.6e},{:.6},{:.6},{:.4},{:.6},{:.6}\n",
            s.index, s.variant, s.method, s.mse, s.ssim, s.ssim_uniform7, s.psnr, s.flux_error, s.negative_fraction
        ));
    }
    write_bytes(&args.out.join("per_sample.csv"), csv.as_bytes())?;
    if !result.parameters.is_empty() {
        let names = ["b", "q", "phi", "x0", "y0", "gamma", "gamma_phi", "kappa_s", "r_s"];
        let mut csv = String::from("index,variant");
        for n in names {
            csv.push_str(&format!(",{n}_true,{n}_predicted"));
        }
        csv.push('\n');
        for p in &result.parameters {
            csv.push_str(&format!("{},{}", p.index, p.variant));
            for j in 0..9 {
                csv.push_str(&format!(",{:.6},{:.6}", p.truth[j], p.predicted[j]));
            }
            csv.push('\n');
        }
        write_bytes(&args.out.join("parameters.csv"), csv.as_bytes())?;
    }
    for (index, why) in &result.inversion_failures {
        eprintln!("warning: the inversion of sample {index} failed ({why}); its baseline source is zero");
    }
    let coherence = result.mean_coherence();
    let mut csv = format!("k_cycles_per_source_pixel,{}\n", METHODS.join(","));
    for (bin, &(k, _)) in coherence[0].iter().enumerate() {
        csv.push_str(&format!("{k:.5}"));
        for curve in &coherence {
            csv.push_str(&format!(",{:.6}", curve[bin].1));
        }
        csv.push('\n');
    }
    write_bytes(&args.out.join("coherence.csv"), csv.as_bytes())?;
    let series: Vec<Series> =
        METHODS.iter().zip(&coherence).map(|(name, curve)| Series { label: name.to_string(), points: curve.clone() }).collect();
    LinePlot {
        title: &format!("coherence with the true source, mean of {} samples", result.reconstructions.len()),
        x_label: "k [cycles per source pixel]",
        y_label: "C(k) = P12 / sqrt(P11 P22)",
        log_y: false,
    }
    .save(&args.out.join("coherence.png"), &series)?;
    let reports = summarize(&result.scores);
    let parameters = summarize_parameters(&result.parameters);
    let failures: Vec<serde_json::Value> =
        result.inversion_failures.iter().map(|(index, why)| serde_json::json!({ "index": index, "reason": why })).collect();
    let json = serde_json::json!({
        "mode": if model.forward.is_some() { meta.config.mode } else { astrorim_nn::model::Mode::KnownLens },
        "lens": lens,
        "encoder_views": if model.forward.is_some() { Some(args.encoder_views) } else { None },
        "refine_steps": args.refine_steps,
        "refine_parametric_steps": args.refine_parametric_steps,
        "refine_parametric_components": args.refine_parametric_components,
        "refine_evidence": args.refine_evidence,
        "step": meta.step,
        "methods": reports,
        "parameters": parameters,
        "coherence": METHODS.iter().zip(&coherence).map(|(name, curve)| (name.to_string(), curve.clone())).collect::<std::collections::BTreeMap<_, _>>(),
        "inversion_failures": failures,
    });
    write_bytes(&args.out.join("summary.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    let md = markdown(&reports, &parameters);
    write_bytes(&args.out.join("summary.md"), md.as_bytes())?;
    let title = match &args.source_text {
        Some(text) => format!("Sources replaced by the text {text:?} and re-observed, {lens}: the first sample of each variant"),
        None => format!("Held-out test samples, {lens}: the first of each variant"),
    };
    save_examples(&result.reconstructions, m.image_size, m.source_size, &title, &args.out.join("examples.png"))?;
    print!("{md}");
    Ok(())
}

/// `examples.png` of an evaluation: the first sample of each variant, one
/// row each — observation, true source, RIM, RIM − truth, and the inversion
/// where it was run (else the back-projection) — titled, on arcsec axes,
/// with colour bars. The sources share the truth's asinh scaling.
fn save_examples(examples: &[Example], image_size: usize, source_size: usize, title: &str, path: &std::path::Path) -> Result<()> {
    let mut picked: Vec<&Example> = Vec::new();
    for e in examples {
        if !picked.iter().any(|p| p.variant == e.variant) {
            picked.push(e);
        }
    }
    let wide = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let rows: Vec<[Vec<f64>; 5]> = picked
        .iter()
        .map(|e| {
            let truth = wide(&e.truth);
            let rim = wide(&e.outputs[0]);
            let residual = rim.iter().zip(&truth).map(|(r, t)| r - t).collect();
            let other = if e.outputs[2].is_empty() { wide(&e.outputs[1]) } else { wide(&e.outputs[2]) };
            [wide(&e.observed), truth, rim, residual, other]
        })
        .collect();
    let mut cells = Vec::new();
    for (e, data) in picked.iter().zip(&rows) {
        let half_image = 0.5 * image_size as f64 * e.pixel_scale;
        let half_source = 0.5 * source_size as f64 * e.source_pixel_scale;
        let source_scaling = Scaling::asinh_auto(&data[1]);
        let peak = data[1].iter().fold(0.0f64, |a, &b| a.max(b.abs()));
        let other = if e.outputs[2].is_empty() { "back-projection" } else { "inversion" };
        let titles = ["observed", "true source", "RIM", "RIM − truth", other];
        for (k, values) in data.iter().enumerate() {
            let (half, nx) = if k == 0 { (half_image, image_size) } else { (half_source, source_size) };
            let scaling = match k {
                0 => Scaling::asinh_auto(values),
                3 => Scaling::Symmetric { limit: 0.2 * peak.max(1e-30) },
                _ => source_scaling,
            };
            cells.push(Cell::Image(ImageCell {
                title: format!("{} #{}: {}", e.variant, e.index, titles[k]),
                data: values,
                nx,
                ny: nx,
                extent: (-half, half, -half, half),
                scaling,
                colorbar_label: "flux / observed maximum pixel".into(),
                overlays: Vec::new(),
            }));
        }
    }
    save_panel(path, &format!("{title} (residual scale ±20 % of the true peak)"), 5, &cells)?;
    Ok(())
}
