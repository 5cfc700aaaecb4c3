//! `astrorim bench coverage`: calibration of the lens posterior on
//! simulated lenses whose truth is known. Each lens (SIE + shear, an
//! elliptical Sérsic source and lens light, Gaussian PSF, white noise;
//! parameters drawn from a seed and the lens index, the lens's shape from
//! the posterior's prior) goes through the
//! pipeline of `astrorim reconstruct --uncertainty` from the image alone;
//! the truth's place in the 68 % and 95 % intervals of θ_E and q is
//! recorded (for a calibrated posterior the fractions inside approach 0.68
//! and 0.95), with the truth's rank in the posterior (the fraction of
//! samples below it: uniform on [0, 1] over the lenses of a calibrated
//! posterior, Talts et al. 2018, so that every central interval's coverage
//! can be read off) and the likelihood of the refined lens against the
//! truth's.

use anyhow::{bail, Context, Result};
use astrorim_infer::lens_light::SersicComponent;
use astrorim_infer::observation::Observation;
use astrorim_infer::pipeline::{reconstruct_lens, PipelineOptions};
use astrorim_infer::posterior::{log_likelihood, sample_lens, summarize, Chain, PosteriorOptions, ELLIPTICITY_PRIOR_SD, SHEAR_PRIOR_SD};
use astrorim_infer::prep::PrepOptions;
use astrorim_infer::refine::RefineOptions;
use astrorim_infer::sampled_light::LightSampling;
use astrorim_io::atomic::write_bytes;
use astrorim_io::fits::{write_fits, HduOut, Keyword, Precision};
use astrorim_physics::ellipticity::{e1e2_to_q_phi, q_phi_to_e1e2};
use astrorim_physics::light::{LightModel, LightProfile};
use astrorim_physics::param_map::LenstronomyLens;
use astrorim_physics::psf::{Kernel, PsfShape};
use astrorim_physics::render::{render, Scene};
use astrorim_physics::{Image, PixelGrid};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Image side (pixels), pixel scale (arcsec), PSF FWHM (arcsec) and noise σ of the simulated lenses.
const SIDE: usize = 64;
const PIXEL_SCALE: f64 = 0.06;
const PSF_FWHM: f64 = 0.1;
const NOISE: f64 = 0.02;
/// Rays per pixel side of the simulation.
const SUPERSAMPLING: usize = 3;

/// One simulated lens: its truth (arcsec from the image centre) and its observation.
struct Simulated {
    truth: LenstronomyLens,
    source: SersicComponent,
    /// Drawn always, rendered only when asked ([`simulate`]).
    lens_light: Option<SersicComponent>,
    observation: Observation,
}

/// Lens `index` of the set drawn from `seed`: θ_E 0.8–1.4″, the
/// ellipticity and shear components from the posterior's own prior
/// ([`ELLIPTICITY_PRIOR_SD`], [`SHEAR_PRIOR_SD`], truncated as it is: a
/// calibration test draws its truths from the prior — until 2026-12-03 q
/// was uniform in 0.6–0.95 and γ in 0–0.06, which that prior does not
/// match), centre within 0.05″; the source (R 0.1–0.25″, n 1–2.5,
/// q ≥ 0.6) within 0.25″ of the optical axis; a de Vaucouleurs-like lens
/// light (R 0.6–0.9″, n 3.5) on the mass centre, drawn always (so that the
/// lenses are the same) and rendered when `lens_light`.
fn simulate(seed: u64, index: u64, lens_light: bool) -> Result<Simulated> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index);
    let (e1, e2) = truncated_pair(&mut rng, ELLIPTICITY_PRIOR_SD, 0.5)?;
    let (gamma1, gamma2) = truncated_pair(&mut rng, SHEAR_PRIOR_SD, 0.3)?;
    let truth = LenstronomyLens {
        theta_E: rng.gen_range(0.8..1.4),
        e1,
        e2,
        center_x: rng.gen_range(-0.05..0.05),
        center_y: rng.gen_range(-0.05..0.05),
        gamma1,
        gamma2,
        Rs: 0.0,
        alpha_Rs: 0.0,
    };
    let (se1, se2) = q_phi_to_e1e2(rng.gen_range(0.6..1.0), rng.gen_range(0.0..std::f64::consts::PI));
    let (r, a) = (0.25 * rng.gen::<f64>().sqrt(), rng.gen_range(0.0..std::f64::consts::TAU));
    let source = SersicComponent {
        amp: 3.0,
        R_sersic: rng.gen_range(0.1..0.25),
        n_sersic: rng.gen_range(1.0..2.5),
        e1: se1,
        e2: se2,
        center_x: r * a.cos(),
        center_y: r * a.sin(),
    };
    let grid = PixelGrid::new(SIDE, SIDE, PIXEL_SCALE, SUPERSAMPLING)?;
    let psf = Kernel::analytic(PsfShape::Gaussian { fwhm: PSF_FWHM, e1: 0.0, e2: 0.0 }, PIXEL_SCALE)?;
    let light = SersicComponent {
        amp: 6.0,
        R_sersic: rng.gen_range(0.6..0.9),
        n_sersic: 3.5,
        e1: 0.5 * e1,
        e2: 0.5 * e2,
        center_x: truth.center_x,
        center_y: truth.center_y,
    };
    let lens_light = lens_light.then_some(light);
    let scene = Scene {
        grid,
        lens: truth.lens_model(),
        source: LightModel::new(vec![Box::new(source.profile())]),
        lens_light: LightModel::new(lens_light.iter().map(|c| Box::new(c.profile()) as Box<dyn LightProfile>).collect()),
        psf: Some(psf.clone()),
    };
    let normal = Normal::new(0.0, NOISE)?;
    let data: Vec<f64> = render(&scene).data.iter().map(|v| v + normal.sample(&mut rng)).collect();
    let observation = Observation {
        image: Image { nx: SIDE, ny: SIDE, data },
        sigma: vec![NOISE; SIDE * SIDE],
        psf: Some(psf),
        pixel_scale: PIXEL_SCALE,
        pixel_scale_origin: "given",
        noise_origin: "simulated white noise".into(),
        masked_by_mask: 0,
        unusable: 0,
    };
    Ok(Simulated { truth, source, lens_light, observation })
}

/// Two components drawn from N(0, sd²) each, redrawn until their modulus is
/// at most `max`: the posterior's prior on (e1, e2) and on (γ1, γ2).
fn truncated_pair(rng: &mut rand_chacha::ChaCha8Rng, sd: f64, max: f64) -> Result<(f64, f64)> {
    let normal = Normal::new(0.0, sd)?;
    loop {
        let (a, b) = (normal.sample(rng), normal.sample(rng));
        if a.hypot(b) <= max {
            return Ok((a, b));
        }
    }
}

/// Writes lens `index` into `dir`: its noisy image and PSF as FITS, and its
/// truth as a scene (`astrorim render` draws its noiseless image; `invert
/// --lens` reads its lens list), arcsec from the image centre.
fn save_lens(dir: &Path, index: u64, lens: &Simulated) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let origin = Keyword::text("ORIGIN", "astrorim bench coverage", "software that wrote this file");
    let image = &lens.observation.image;
    let hdu = HduOut { name: None, image, keywords: vec![origin.clone(), Keyword::float("NOISE", NOISE, "white noise sigma per pixel")] };
    write_fits(&dir.join(format!("lens_{index}.fits")), &[hdu], Precision::F64, Some(PIXEL_SCALE))?;
    if let Some(psf) = &lens.observation.psf {
        let kernel = Image { nx: psf.size(), ny: psf.size(), data: psf.data().to_vec() };
        let hdu = HduOut { name: None, image: &kernel, keywords: vec![origin] };
        write_fits(&dir.join(format!("lens_{index}_psf.fits")), &[hdu], Precision::F64, Some(PIXEL_SCALE))?;
    }
    let scene = serde_json::json!({
        "grid": {"nx": SIDE, "ny": SIDE, "pixel_scale": PIXEL_SCALE, "supersampling": SUPERSAMPLING},
        "lens": lens.truth.sie_shear_list(),
        "source": [lens.source.scene_entry()],
        "lens_light": lens.lens_light.iter().map(SersicComponent::scene_entry).collect::<Vec<_>>(),
        "psf": {"type": "GAUSSIAN", "fwhm": PSF_FWHM},
    });
    write_bytes(&dir.join(format!("lens_{index}_truth.json")), serde_json::to_string_pretty(&scene)?.as_bytes())?;
    Ok(())
}

/// Which simulated lenses a coverage run takes.
pub struct Lenses {
    /// Lens indices.
    pub range: std::ops::Range<u64>,
    pub seed: u64,
    /// Rendered with their lens light (else without, and the pipeline given the true centre).
    pub lens_light: bool,
    /// Each lens also written here ([`save_lens`]).
    pub save: Option<PathBuf>,
}

/// The fraction of `samples` below `value` (its rank, 0–1).
fn fraction_below(samples: &[f64], value: f64) -> f64 {
    samples.iter().filter(|&&v| v < value).count() as f64 / samples.len().max(1) as f64
}

/// The CSV's columns: a lens's intervals and diagnostics, then the settings it was sampled with.
const HEADER: &str = "index,theta_e_true,theta_e_median,theta_e_p16,theta_e_p84,theta_e_p2_5,theta_e_p97_5,q_true,q_median,q_p16,q_p84,q_p2_5,q_p97_5,sky_offset_median,sky_offset_p16,sky_offset_p84,tau_max,acceptance,delta_ln_likelihood_fit_minus_truth,seconds,theta_e_rank,q_rank,seed,temperature,steps,walkers,light";

/// The settings a row records and a resumed run must share: (column, value).
fn settings(seed: u64, options: &PosteriorOptions, light: &str) -> [(&'static str, String); 4] {
    [
        ("seed", seed.to_string()),
        ("temperature", options.temperature.to_string()),
        ("steps", options.steps.to_string()),
        ("light", light.into()),
    ]
}

/// The rows of an earlier run in `out` (the header first) and the lenses
/// they hold, so that a run continues it; an absent `out` holds none. Refused
/// when `out` was written by another version (its header differs) or its
/// rows were sampled with other `settings`.
fn earlier_rows(out: &Path, settings: &[(&'static str, String)]) -> Result<(String, BTreeSet<u64>)> {
    let mut text = format!("{HEADER}\n");
    let mut done = BTreeSet::new();
    if !out.exists() {
        return Ok((text, done));
    }
    let mut reader = csv::Reader::from_path(out).with_context(|| format!("{}: cannot read", out.display()))?;
    let header = reader.headers().with_context(|| format!("{}: no header", out.display()))?.clone();
    if header.iter().collect::<Vec<_>>().join(",") != HEADER {
        bail!("{}: written by another version of `bench coverage` (its columns differ): use another --out", out.display());
    }
    for (line, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{}: row {}", out.display(), line + 1))?;
        let field = |name: &str| header.iter().position(|h| h == name).and_then(|i| record.get(i)).unwrap_or("");
        let index: u64 =
            field("index").parse().with_context(|| format!("{}: row {}: index {:?}", out.display(), line + 1, field("index")))?;
        for (name, ours) in settings {
            if field(name) != ours {
                bail!("{}: lens {index} was sampled with {name} {}, this run asks for {ours}: use the same settings to continue it, or another --out", out.display(), field(name));
            }
        }
        done.insert(index);
        text.push_str(&record.iter().collect::<Vec<_>>().join(","));
        text.push('\n');
    }
    Ok((text, done))
}

/// Refines and samples `lenses`, appends one CSV row per lens to `out`
/// (rewritten atomically after each) and prints the coverage fractions.
/// Lenses whose rows `out` already holds are skipped (a run continues an
/// interrupted one with the same settings).
/// `sample_light`: the lens light sampled with the lens (else held at its fit).
pub fn run_coverage(lenses: &Lenses, options: PosteriorOptions, sample_light: bool, out: &Path) -> Result<()> {
    let (seed, lens_light) = (lenses.seed, lenses.lens_light);
    let mut pipeline = PipelineOptions {
        prep: PrepOptions { center_pixel: None, cutout_arcsec: Some(SIDE as f64 * PIXEL_SCALE) },
        auto_mask: true,
        refine: RefineOptions { source_size: 24, final_source_size: 32, max_evaluations: 900, ..RefineOptions::default() },
        hint: None,
    };
    let refine_options = pipeline.refine;
    let light_mode = match (lens_light, sample_light) {
        (false, _) => "absent",
        (true, true) => "sampled",
        (true, false) => "held",
    };
    let settings = settings(seed, &options, light_mode);
    let (mut rows, earlier) = earlier_rows(out, &settings)?;
    let skipped = lenses.range.clone().filter(|k| earlier.contains(k)).count();
    if skipped > 0 {
        eprintln!("{}: {skipped} of the lenses already sampled there, skipped", out.display());
    }
    let settings_cells = settings.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>();
    let (mut inside, mut done) = ([0usize; 4], 0usize);
    for k in lenses.range.clone().filter(|k| !earlier.contains(k)) {
        let clock = Instant::now();
        let lens = simulate(seed, k, lens_light)?;
        if let Some(dir) = &lenses.save {
            save_lens(dir, k, &lens)?;
        }
        // The true centre as (column, row) of the image.
        let middle = (SIDE as f64 - 1.0) / 2.0;
        let center_pixel = (middle + lens.truth.center_x / PIXEL_SCALE, middle + lens.truth.center_y / PIXEL_SCALE);
        pipeline.prep.center_pixel = (!lens_light).then_some(center_pixel);
        let r = match reconstruct_lens(&lens.observation, &pipeline) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("lens {k}: {e}; skipped");
                continue;
            }
        };
        // The truth in the cutout's frame (the cutout is centred on the lens light's pixel, or the given centre).
        let (center_x, center_y) = r.prepared.cutout_position(center_pixel.0, center_pixel.1);
        let truth = LenstronomyLens { center_x, center_y, ..lens.truth };
        let problem = r.lens_problem();
        let light = sample_light.then(|| LightSampling::of(&r, &refine_options));
        let chain =
            match sample_lens(&problem, &r.fit.lens, &refine_options, &options, Chain::default(), light.as_ref(), |_| Ok::<(), String>(()))
            {
                Ok(chain) => chain,
                Err(e) => {
                    eprintln!("lens {k}: the posterior: {e}; skipped");
                    continue;
                }
            };
        let delta = log_likelihood(&problem, &r.fit.lens, &refine_options, chain.lambda)
            - log_likelihood(&problem, &truth, &refine_options, chain.lambda);
        let fit = r.fit;
        let summary = summarize(&chain, &fit.lens, None, clock.elapsed().as_secs_f64());
        let (theta, q) = (summary.intervals["theta_e_arcsec"], summary.intervals["q"]);
        let q_true = e1e2_to_q_phi(lens.truth.e1, lens.truth.e2).0;
        for (slot, hit) in [
            theta.contains(lens.truth.theta_E, false),
            theta.contains(lens.truth.theta_E, true),
            q.contains(q_true, false),
            q.contains(q_true, true),
        ]
        .into_iter()
        .enumerate()
        {
            inside[slot] += hit as usize;
        }
        done += 1;
        let tau_max = summary.diagnostics.autocorrelation_time.iter().copied().fold(f64::NAN, f64::max);
        // The truth's rank among the post-burn-in samples (the intervals' samples).
        let columns = chain.columns(summary.diagnostics.burn_in_steps);
        let q_samples: Vec<f64> = columns[1].iter().zip(&columns[2]).map(|(&e1, &e2)| e1e2_to_q_phi(e1, e2).0).collect();
        let (theta_rank, q_rank) = (fraction_below(&columns[0], lens.truth.theta_E), fraction_below(&q_samples, q_true));
        // The sampled sky offset (empty with the light held).
        let sky = summary.intervals.get("sky_offset").map_or(",,".to_string(), |i| format!("{:.6},{:.6},{:.6}", i.median, i.p16, i.p84));
        rows.push_str(&format!(
            "{k},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{q_true:.5},{:.5},{:.5},{:.5},{:.5},{:.5},{sky},{tau_max:.1},{:.3},{delta:.2},{:.1},{theta_rank:.5},{q_rank:.5},{},{},{},{},{}\n",
            lens.truth.theta_E,
            theta.median,
            theta.p16,
            theta.p84,
            theta.p2_5,
            theta.p97_5,
            q.median,
            q.p16,
            q.p84,
            q.p2_5,
            q.p97_5,
            summary.diagnostics.acceptance_fraction,
            clock.elapsed().as_secs_f64(),
            settings_cells[0],
            settings_cells[1],
            settings_cells[2],
            chain.walkers,
            settings_cells[3],
        ));
        write_bytes(out, rows.as_bytes())?;
        let f = |n: usize| n as f64 / done as f64;
        eprintln!(
            "lens {k}: θ_E {:.4} ({:.4} −{:.4} +{:.4}), q {q_true:.3} ({:.3}), ln L(fit) − ln L(truth) {delta:.1}; {done} lenses: θ_E inside 68 % {:.2}, 95 % {:.2}; q {:.2}, {:.2}; {:.0} s",
            lens.truth.theta_E,
            theta.median,
            theta.median - theta.p16,
            theta.p84 - theta.median,
            q.median,
            f(inside[0]),
            f(inside[1]),
            f(inside[2]),
            f(inside[3]),
            clock.elapsed().as_secs_f64()
        );
    }
    println!(
        "coverage over the {done} lenses sampled by this run (likelihood at temperature {}): θ_E inside its 68 % interval {:.3}, 95 % {:.3}; q {:.3}, {:.3} (nominal 0.68, 0.95); rows in {}",
        options.temperature,
        inside[0] as f64 / done.max(1) as f64,
        inside[1] as f64 / done.max(1) as f64,
        inside[2] as f64 / done.max(1) as f64,
        inside[3] as f64 / done.max(1) as f64,
        out.display()
    );
    Ok(())
}
