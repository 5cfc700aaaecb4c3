//! The real-lens pipeline behind `astrorim reconstruct`: preparation, the
//! lens light, the arcs and the neighbours, the lens refinement with the
//! source re-solved at every step, the lens light refitted against the
//! lensed-source model (a second Sérsic when the χ² asks for it), and the
//! final source, model and residuals.

use crate::lens_light::{fit_lens_light, LensLight, LightFit, SersicComponent};
use crate::observation::Observation;
use crate::parametric::{fit_parametric, ParametricRecord};
use crate::positions::Positions;
use crate::prep::{arc_radius, core_radius, dilate, neighbours, pixel_radius, prepare, segment, PrepOptions, Prepared};
use crate::refine::{
    center_tolerance, refine, theta_e_bounds, CoarseProblem, LensFamily, LensFit, LensProblem, RefineOptions, StartRecord,
};
use astrorim_physics::param_map::LenstronomyLens;
use serde::Serialize;
use std::time::Instant;

/// Settings of a reconstruction.
#[derive(Debug, Clone, Default)]
pub struct PipelineOptions {
    pub prep: PrepOptions,
    /// Mask neighbouring objects automatically.
    pub auto_mask: bool,
    pub refine: RefineOptions,
    /// A first guess of the lens from elsewhere (the encoder), tried among the starts.
    pub hint: Option<(String, LenstronomyLens)>,
}

/// Where the pipeline's first guesses come from, in words (`result.json → start`).
pub const START_DESCRIPTION: &str =
    "the arcs' radius from the lens-light-subtracted image (several starts, each scanned in θ_E, chosen by evidence)";

/// Detection threshold (σ of the smoothed residual) and minimum size of the arcs' segments.
const DETECT_SIGMA: f64 = 3.0;
const DETECT_MIN_PIXELS: usize = 6;
/// Radius of the central disc left out of the source solve, as a fraction
/// of the lower θ_E bound.
const CENTRAL_MASK_FRACTION: f64 = 0.3;
/// Radius of the central disc left out of the parametric stage, as a
/// fraction of the arcs' radius, and at least the core radius (where the
/// arcs' radius is not measured either). SLACS, side by side: at 0.12 the lens
/// light's residual pulled J1218's parametric θ_E 10 % high, at 0.225 it
/// came within 4 %; J1142's counter-image at 0.4″ stays outside it.
const PARAMETRIC_MASK_FRACTION: f64 = 0.225;
/// A θ_E within this fraction of a bound of the search counts as on it.
const BOUND_TOLERANCE: f64 = 5e-3;
/// Budget of the second lens refinement (after the lens light is refitted): one
/// θ_E scan and one simplex from the first refinement's lens, no further rounds.
const SECOND_EVALUATIONS: usize = 120;
/// Budget of each of the parametric stage's final simplexes (one per start).
const PARAMETRIC_EVALUATIONS: usize = 800;

/// Sub-pixels per side where the lens light is rendered (within
/// [`crate::lens_light::SUPERSAMPLED_PIXELS`] of its centre).
pub const LIGHT_SUPERSAMPLING: usize = 3;

/// Everything the pipeline produced, on the cutout grid.
#[derive(Debug, Clone)]
pub struct LensReconstruction {
    pub prepared: Prepared,
    /// σ used by the fit (the preparation's plus the automatic mask).
    pub sigma: Vec<f64>,
    pub light: LensLight,
    pub fit: LensFit,
    /// Lens light, lensed source and their sum (model), per pixel.
    pub light_image: Vec<f64>,
    pub lensed_source: Vec<f64>,
    pub model: Vec<f64>,
    pub summary: FitSummary,
    /// What the final lens refinement fitted: the posterior samples the same problem.
    pub lens_data: LensData,
}

/// The data of the final lens refinement (see [`LensProblem`]): the image
/// less the final lens light, σ with the central disc left out, the arc
/// pixels and the search's bounds.
#[derive(Debug, Clone)]
pub struct LensData {
    pub data: Vec<f64>,
    pub sigma: Vec<f64>,
    pub arc_pixels: Vec<usize>,
    pub theta_e_bounds: (f64, f64),
    pub center_bounds: ((f64, f64), f64),
}

impl LensReconstruction {
    /// The final refinement's problem, on the cutout grid.
    pub fn lens_problem(&self) -> LensProblem<'_> {
        LensProblem {
            data: &self.lens_data.data,
            sigma: &self.lens_data.sigma,
            grid: &self.prepared.grid,
            psf: self.prepared.psf.as_ref(),
            arc_pixels: &self.lens_data.arc_pixels,
            theta_e_bounds: self.lens_data.theta_e_bounds,
            center_bounds: self.lens_data.center_bounds,
            positions: None,
        }
    }
}

/// Figures of merit recorded in `result.json`.
#[derive(Debug, Clone, Serialize)]
pub struct FitSummary {
    /// The lens model fitted.
    pub lens_model: LensFamily,
    /// The arcs' radius from the segmentation: the parametric stage scans θ_E around it.
    pub arc_radius_arcsec: f64,
    /// The lens with a parametric source, whose θ_E sets the pixelated search's bounds.
    pub parametric: Option<ParametricRecord>,
    pub theta_e_bounds_arcsec: (f64, f64),
    /// Images of points of the parametric source that the pixelated search
    /// keeps within a threshold of each other in the source plane.
    pub positions: Option<Positions>,
    pub arc_pixels: usize,
    /// χ² (lens light + lensed source, all fitted pixels) at the first guess and after refinement.
    pub chi2_before: f64,
    pub chi2_after: f64,
    pub reduced_chi2_before: f64,
    pub reduced_chi2: f64,
    pub n_data: usize,
    /// Whether the final reduced χ² is within 3σ of 1 for N_d pixels (1 + 3√(2/N_d)).
    pub residuals_consistent_with_noise: bool,
    /// Whether the lens search's last round met its tolerance before the evaluation budget (the second refinement, a polish, leaves it).
    pub optimizer_converged: bool,
    /// Why the refinement stopped, in words.
    pub stopped_because: String,
    /// Which stage's lens is reported (the pixelated-source search, or the
    /// parametric stage's when the search ended on its θ_E bound).
    pub lens_from: String,
    pub evaluations: usize,
    pub lens_light_components: usize,
    /// Δχ² of the second lens-light component (when it was tried).
    pub second_component_delta_chi2: Option<f64>,
    pub starts: Vec<StartRecord>,
    pub lambda: f64,
    pub log_evidence: f64,
    pub rays_outside_source_grid: f64,
    /// Radius (arcsec) of the central disc left out of the source solve.
    pub central_mask_radius_arcsec: f64,
    /// Wall-clock seconds of each stage, in order.
    pub stage_seconds: Vec<StageTime>,
}

/// The wall-clock time of one stage of the pipeline.
#[derive(Debug, Clone, Serialize)]
pub struct StageTime {
    pub stage: &'static str,
    pub seconds: f64,
}

/// Records the time since the previous mark under `stage`.
struct Stopwatch {
    last: Instant,
    stages: Vec<StageTime>,
}

impl Stopwatch {
    fn new() -> Self {
        Stopwatch { last: Instant::now(), stages: Vec::new() }
    }

    fn mark(&mut self, stage: &'static str) {
        let now = Instant::now();
        self.stages.push(StageTime { stage, seconds: (now - self.last).as_secs_f64() });
        self.last = now;
    }
}

fn chi2(data: &[f64], model: &[f64], sigma: &[f64]) -> (f64, usize) {
    let mut total = 0.0;
    let mut n = 0;
    for ((d, m), s) in data.iter().zip(model).zip(sigma) {
        if s.is_finite() && *s > 0.0 {
            total += ((d - m) / s).powi(2);
            n += 1;
        }
    }
    (total, n)
}

fn subtract(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

fn masked(sigma: &[f64], pixels: &[usize]) -> Vec<f64> {
    let mut out = sigma.to_vec();
    for &p in pixels {
        out[p] = f64::INFINITY;
    }
    out
}

/// One lens-light component or two: the second only if it pays (BIC:
/// Δχ² > 4 ln N over the N fitted pixels) and stays a lens light — its
/// shared centre within a pixel (`pixel_scale`) of the one-component fit's
/// and its Sérsic indices off their bounds (otherwise it is absorbing
/// residual arcs). Returns the choice and Δχ².
fn choose_light(one: LightFit, two: LightFit, sigma: &[f64], pixel_scale: f64) -> (LensLight, f64) {
    let n_fit = sigma.iter().filter(|v| v.is_finite()).count() as f64;
    let delta = one.chi2 - two.chi2;
    let (c1, c2) = (one.light.center(), two.light.center());
    let plausible =
        (c1.0 - c2.0).hypot(c1.1 - c2.1) < pixel_scale && two.light.components.iter().all(|c| c.n_sersic > 0.35 && c.n_sersic < 7.9);
    (if delta > 4.0 * n_fit.ln() && plausible { two.light } else { one.light }, delta)
}

/// Runs the pipeline on a loaded observation. Errors are one line.
pub fn reconstruct_lens(obs: &Observation, options: &PipelineOptions) -> Result<LensReconstruction, String> {
    let mut clock = Stopwatch::new();
    let mut prepared = prepare(obs, &options.prep)?;
    let grid = prepared.grid;
    let (nx, ny) = (grid.nx, grid.ny);
    let psf = prepared.psf.clone();
    let s = grid.pixel_scale;
    // The lens centre in cutout coordinates (arcsec).
    let [ccol, crow] = prepared.record.lens_center_pixel;
    let center = prepared.cutout_position(ccol, crow);
    let light_grid = astrorim_physics::PixelGrid { supersampling: LIGHT_SUPERSAMPLING, ..grid };
    let data = prepared.data.clone();
    let mut sigma = prepared.sigma.clone();

    // 1. A first lens light, fitted to everything.
    let start = SersicComponent { amp: 1.0, R_sersic: 0.5, n_sersic: 4.0, e1: 0.0, e2: 0.0, center_x: center.0, center_y: center.1 };
    let first = fit_lens_light(&data, &sigma, &light_grid, psf.as_ref(), &start, 1, 600);
    let residual = subtract(&data, &first.light.render(&light_grid, psf.as_ref()));
    let center = first.light.center();
    let components = segment(&residual, &sigma, &grid, center, DETECT_SIGMA, DETECT_MIN_PIXELS);
    let radius = arc_radius(&components, &grid, center, &residual);
    clock.mark("preparation and first lens light");

    // 2. Neighbours masked (dilated by 2 pixels for their wings).
    if options.auto_mask {
        let found = neighbours(&components, radius, &grid);
        let pixels: Vec<usize> = dilate(&found.iter().flat_map(|(_, p)| p.iter().copied()).collect::<Vec<_>>(), nx, ny, 2);
        sigma = masked(&sigma, &pixels);
        prepared.record.masked_neighbour_pixels = pixels.len();
        prepared.record.neighbours = found.into_iter().map(|(n, _)| n).collect();
    }
    prepared.record.auto_mask = options.auto_mask;

    // 3. The lens light again, with the arcs (dilated) left out of its fit;
    // not within the core radius, where a residual is the lens light's own
    // (SLACS J0405−0455: its core residual joined the ring into one
    // segment, the core went unfitted and its residual pulled θ_E to a third).
    let arc_components: Vec<&crate::prep::Component> = components.iter().filter(|c| c.radius > 2.0 * s).collect();
    let core = core_radius(s);
    let arc_pixels: Vec<usize> =
        arc_components.iter().flat_map(|c| c.pixels.iter().copied()).filter(|&p| pixel_radius(&grid, center, p) >= core).collect();
    let light_sigma = masked(&sigma, &dilate(&arc_pixels, nx, ny, 1));
    let mut light = fit_lens_light(&data, &light_sigma, &light_grid, psf.as_ref(), &first.light.components[0], 1, 600).light;
    let mut light_image = light.render(&light_grid, psf.as_ref());
    let lens_subtracted = subtract(&data, &light_image);
    let components = segment(&lens_subtracted, &sigma, &grid, light.center(), DETECT_SIGMA, DETECT_MIN_PIXELS);
    let arc_pixels: Vec<usize> = components.iter().filter(|c| c.radius > 2.0 * s).flat_map(|c| c.pixels.iter().copied()).collect();
    let theta_0 = arc_radius(&components, &grid, light.center(), &lens_subtracted)
        .ok_or("no lensed light detected: nothing above 3σ remains after subtracting the lens light")?;
    clock.mark("neighbours, lens light without the arcs");

    // 4. The θ_E basin from a parametric source (on the search's binned
    // image), then starts for the pixelated search inside it (each scanned
    // in θ_E × 0.6…1.6 first): the parametric lens; its θ_E with half the
    // light's ellipticity; the hint.
    let (lcx, lcy) = light.center();
    let lc = light.components[0];
    let base = LenstronomyLens {
        theta_E: theta_0,
        e1: 0.5 * lc.e1,
        e2: 0.5 * lc.e2,
        center_x: lcx,
        center_y: lcy,
        gamma1: 0.0,
        gamma2: 0.0,
        Rs: 0.0,
        alpha_Rs: 0.0,
    };
    let disc = |radius: f64| -> Vec<usize> { (0..nx * ny).filter(|&p| pixel_radius(&grid, (lcx, lcy), p) < radius).collect() };
    let parametric_sigma = masked(&sigma, &disc((PARAMETRIC_MASK_FRACTION * theta_0).max(core)));
    let parametric = {
        let full = LensProblem {
            data: &lens_subtracted,
            sigma: &parametric_sigma,
            grid: &grid,
            psf: psf.as_ref(),
            arc_pixels: &arc_pixels,
            theta_e_bounds: (0.0, f64::INFINITY),
            center_bounds: ((lcx, lcy), center_tolerance(s)),
            positions: None,
        };
        let coarse = if options.refine.search_binning > 1 { CoarseProblem::of(&full, options.refine.search_binning) } else { None };
        let view = coarse.as_ref().map_or(full, |c| c.view(&full));
        fit_parametric(&view, options.refine.family, &base, theta_0, PARAMETRIC_EVALUATIONS)
    };
    clock.mark("lens with a parametric source");
    let theta_guess = parametric.as_ref().map_or(theta_0, |p| p.lens.theta_E);
    let bounds = theta_e_bounds(theta_guess);
    // The images of five points of the parametric source (its centre and
    // ±R/2 along x and y): the pixelated search keeps each point's images
    // together in the source plane. With the centre alone (two images on
    // most lenses), q and the shear compensated a θ_E 7 % low on the
    // lenstronomy-made set.
    let positions = parametric.as_ref().and_then(|p| {
        let (x, y, h) = (p.source.center_x, p.source.center_y, 0.5 * p.source.R_sersic);
        Positions::of(&p.lens, &[(x, y), (x + h, y), (x - h, y), (x, y + h), (x, y - h)], &grid)
    });
    // The source is solved without the central disc, where the lens light
    // outshines any lensed light and the residual of its model would
    // otherwise be fitted by source pixels (and, in step 5, taken away from
    // the lens light); there the lensed-source model is zero.
    let central_radius = CENTRAL_MASK_FRACTION * bounds.0;
    let central = disc(central_radius);
    let source_sigma = masked(&sigma, &central);
    let outside_centre = |model: &[f64]| -> Vec<f64> {
        let mut out = model.to_vec();
        for &p in &central {
            out[p] = 0.0;
        }
        out
    };
    let mut starts = vec![("parametric θ_E, light's ellipticity".to_string(), LenstronomyLens { theta_E: theta_guess, ..base })];
    if let Some(p) = &parametric {
        starts.insert(0, ("lens of the parametric source".to_string(), p.lens));
    }
    if let Some((label, lens)) = &options.hint {
        starts.insert(0, (label.clone(), LenstronomyLens { theta_E: lens.theta_E.clamp(bounds.0, bounds.1), ..*lens }));
    }
    let problem = LensProblem {
        data: &lens_subtracted,
        sigma: &source_sigma,
        grid: &grid,
        psf: psf.as_ref(),
        arc_pixels: &arc_pixels,
        theta_e_bounds: bounds,
        center_bounds: ((lcx, lcy), center_tolerance(s)),
        positions: positions.as_ref(),
    };
    let first_guess = &starts[0].1;
    let guess_grid = crate::refine::source_grid_for(first_guess, &grid, &arc_pixels, options.refine.source_size);
    let chi2_before = problem
        .solve(first_guess, &guess_grid, None, &options.refine)
        .map(|(sol, _)| chi2(&data, &light_image.iter().zip(&outside_centre(&sol.model)).map(|(a, b)| a + b).collect::<Vec<_>>(), &sigma).0)
        .unwrap_or(f64::NAN);
    let (mut fit, records) = refine(&problem, &starts, &options.refine).ok_or("the lens refinement failed at every start")?;
    clock.mark("lens refinement");

    // 5. The lens light against the lensed source, one component or two.
    let arcs_model = outside_centre(&fit.solution.model);
    let without_source = subtract(&data, &arcs_model);
    let one = fit_lens_light(&without_source, &sigma, &light_grid, psf.as_ref(), &light.components[0], 1, 400);
    let two = fit_lens_light(&without_source, &sigma, &light_grid, psf.as_ref(), &one.light.components[0], 2, 800);
    let delta;
    (light, delta) = choose_light(one, two, &sigma, s);
    light_image = light.render(&light_grid, psf.as_ref());
    let lens_subtracted = subtract(&data, &light_image);
    clock.mark("lens light against the lensed source");
    let again = RefineOptions { evaluations_per_start: SECOND_EVALUATIONS, max_evaluations: 0, ..options.refine };
    // The lens-light-subtracted image changed: `problem` keeps σ, the arcs, the bounds and the positions.
    let problem = LensProblem { data: &lens_subtracted, ..problem };
    if let Some((refit, _)) = refine(&problem, &[("after the lens light".to_string(), fit.lens)], &again) {
        // A polish of the search's lens (one scan, one short simplex that
        // rarely meets the tolerance): whether the lens converged is the search's.
        fit = LensFit { evaluations: fit.evaluations + refit.evaluations, converged: fit.converged, ..refit };
    }

    clock.mark("second lens refinement");

    // 6. A search that ended on its θ_E bound found no maximum of the
    // evidence near the parametric lens (on SLACS it runs to smaller θ_E,
    // where the pixelated source absorbs lens-light residuals): the lens of
    // the parametric source is reported instead, its source re-solved.
    let on_bound = fit.lens.theta_E <= bounds.0 * (1.0 + BOUND_TOLERANCE) || fit.lens.theta_E >= bounds.1 / (1.0 + BOUND_TOLERANCE);
    let mut lens_from = "the pixelated-source search".to_string();
    if let (true, Some(p)) = (on_bound, &parametric) {
        if let Some(fallback) = crate::refine::final_solve(&problem, &options.refine.family.restrict(&p.lens), &options.refine) {
            lens_from = format!(
                "the parametric-source stage: the pixelated-source search ended on its θ_E bound ({:.3}″ within [{:.3}, {:.3}]″)",
                fit.lens.theta_E, bounds.0, bounds.1
            );
            fit = LensFit { evaluations: fit.evaluations + 1, converged: false, ..fallback };
        }
    }
    let lensed_source = outside_centre(&fit.solution.model);
    let model: Vec<f64> = light_image.iter().zip(&lensed_source).map(|(a, b)| a + b).collect();
    let (chi2_after, n_data) = chi2(&data, &model, &sigma);
    let reduced = chi2_after / n_data as f64;
    let summary = FitSummary {
        lens_model: options.refine.family,
        arc_radius_arcsec: theta_0,
        parametric: parametric.as_ref().map(ParametricRecord::of),
        theta_e_bounds_arcsec: bounds,
        positions: positions.clone(),
        arc_pixels: arc_pixels.len(),
        chi2_before,
        chi2_after,
        reduced_chi2_before: chi2_before / n_data as f64,
        reduced_chi2: reduced,
        n_data,
        residuals_consistent_with_noise: reduced <= 1.0 + 3.0 * (2.0 / n_data as f64).sqrt(),
        optimizer_converged: fit.converged,
        stopped_because: if on_bound {
            format!("the lens search ended on its θ_E bound; the lens reported is from {lens_from}")
        } else if fit.converged {
            "the simplex's spread of −ln evidence fell below its tolerance".into()
        } else {
            format!(
                "the lens search's evaluation budget (--max-evaluations {}) was spent before its simplex met its tolerance; the outputs are those of the best lens found ({} re-solves of the source in all)",
                options.refine.max_evaluations, fit.evaluations
            )
        },
        lens_from,
        evaluations: fit.evaluations,
        lens_light_components: light.components.len(),
        second_component_delta_chi2: Some(delta),
        starts: records,
        lambda: fit.solution.lambda,
        log_evidence: fit.solution.log_evidence,
        rays_outside_source_grid: fit.lost_fraction,
        central_mask_radius_arcsec: central_radius,
        stage_seconds: clock.stages,
    };
    let lens_data = LensData {
        data: lens_subtracted,
        sigma: source_sigma,
        arc_pixels,
        theta_e_bounds: bounds,
        center_bounds: ((lcx, lcy), center_tolerance(s)),
    };
    Ok(LensReconstruction { prepared, sigma, light, fit, light_image, lensed_source, model, summary, lens_data })
}
