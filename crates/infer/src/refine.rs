//! Refinement of the lens model (SIE + external shear, lenstronomy's
//! keywords) on an image whose lens light has been subtracted: the source is
//! re-solved by the regularized inversion at every trial lens, and the lens
//! maximizes the Bayesian evidence at a fixed regularization strength (the
//! semilinear method of Warren & Dye 2003 / Suyu et al. 2006, as in
//! PyAutoLens's lens-model search). A few starts guard against a bad first
//! guess: each is run briefly, the best by evidence is continued.
//!
//! The source grid follows the lens: at every trial it covers the
//! source-plane positions of the arc pixels traced through that lens, with
//! a margin. A grid fixed for a whole search lets the simplex drift to
//! degenerate lenses whose arcs trace outside the grid (left unconstrained,
//! they cost the evidence little when the arcs are faint); measured on
//! simulations, the following grid keeps one clean maximum near the truth.
//!
//! The images of five points of the parametric stage's source
//! ([`Positions`]) must stay, each point's, within a threshold of each
//! other in the source plane under every trial lens: the guard against lenses too light for the arcs, whose
//! barely lensed pixelated source the evidence nearly accepts.

use crate::binning::{bin_image, bin_kernel, bin_pixels, Binned};
use crate::inversion::{has_weight, FillOrdering, Inversion, InversionError, Regularization, Solution};
use crate::minimize::nelder_mead;
use crate::operator::{LensingOperator, SourceGrid};
use crate::positions::Positions;
use astrorim_physics::param_map::LenstronomyLens;
use astrorim_physics::psf::Kernel;
use astrorim_physics::PixelGrid;
use rayon::prelude::*;
use serde::Serialize;

/// Settings of the refinement.
#[derive(Debug, Clone, Copy)]
pub struct RefineOptions {
    /// Source grid side during the search (the final solve uses `final_source_size`).
    /// The default 28 against 32, side by side (2026-12-02): SLACS θ_E mean
    /// |error| 3.5 % vs 3.7 %, q 0.089 vs 0.093, 118 s vs 138 s for 21; the
    /// lenstronomy-made set 2.1 % vs 2.3 %, q 0.073 vs 0.071, 97 s vs 124 s
    /// for 10 (the search's time goes as the source pixels' count to a power
    /// above one: the normal equations and their factor fill in).
    pub source_size: usize,
    pub final_source_size: usize,
    /// Rays per pixel side.
    pub supersampling: usize,
    pub regularization: Regularization,
    /// PSF taps below this fraction of the peak are dropped from the
    /// operator during the search (halves its non-zeros and the time per
    /// trial lens) and for the final solve.
    pub psf_floor: f64,
    pub final_psf_floor: f64,
    /// Objective evaluations per start (exploration) and for the continued best start.
    pub evaluations_per_start: usize,
    pub max_evaluations: usize,
    /// The search runs on the image binned by this factor (1: at full
    /// resolution; skipped for cutouts under 96 pixels across), then a short
    /// simplex of `polish_evaluations` at full resolution polishes its lens.
    pub search_binning: usize,
    pub polish_evaluations: usize,
    /// A simplex stops when the standard deviation of −ln ε over its
    /// vertices falls below this (or on its evaluation budget). 1e-3 is
    /// rarely reached, so the budget usually ends the search; measured on
    /// the 21 SLACS lenses, 0.1 gave the same θ_E errors in ~20 % less time
    /// but stopped a simulated lens at q 0.84 for 0.75, and 0.01 saved no
    /// time (docs/results.md).
    pub simplex_tolerance: f64,
    /// The lens model fitted.
    pub family: LensFamily,
}

impl Default for RefineOptions {
    fn default() -> Self {
        RefineOptions {
            source_size: 28,
            final_source_size: 48,
            supersampling: 2,
            regularization: Regularization::Gradient,
            psf_floor: 1e-2,
            final_psf_floor: 1e-3,
            evaluations_per_start: 150,
            max_evaluations: 600,
            search_binning: 2,
            polish_evaluations: 80,
            simplex_tolerance: 1e-3,
            family: LensFamily::SieShear,
        }
    }
}

/// The data the lens is fitted to.
#[derive(Debug, Clone, Copy)]
pub struct LensProblem<'a> {
    /// Lens-light-subtracted image, row-major on `grid`.
    pub data: &'a [f64],
    pub sigma: &'a [f64],
    /// The image grid (its supersampling is replaced by the options').
    pub grid: &'a PixelGrid,
    pub psf: Option<&'a Kernel>,
    /// Pixels holding lensed light (the arcs): they set the source grid's extent.
    pub arc_pixels: &'a [usize],
    /// θ_E is searched inside these bounds (arcsec), set by [`theta_e_bounds`].
    pub theta_e_bounds: (f64, f64),
    /// The mass centre is searched within `.1` arcsec of `.0` (the lens
    /// light's centre: for galaxy-scale lenses the two agree to a few
    /// hundredths of an arcsec, and a free centre lets the simplex trade the
    /// centre against θ_E and the shear on faint arcs).
    pub center_bounds: ((f64, f64), f64),
    /// Multiple-image positions the search's lenses must keep together in
    /// the source plane ([`Positions`]); None: no such constraint (the
    /// posterior and the parametric stage do without).
    pub positions: Option<&'a Positions>,
}

/// The default centre tolerance: 0.05″ or one pixel, whichever is larger
/// (the mass and light centres of SLACS lenses agree to ≲ 0.05″; a looser
/// bound let faint-arc fits trade the centre against q and the shear,
/// measured on simulations).
pub fn center_tolerance(pixel_scale: f64) -> f64 {
    pixel_scale.max(0.05)
}

/// The pixelated search's θ_E bounds about the parametric stage's θ_E
/// (`crate::parametric`): 0.8–1.25 of it. Without bounds the evidence has a
/// second maximum at small θ_E where the barely lensed source copies the
/// arcs (measured on simulations: at 0.45 θ_E its evidence exceeded a round
/// lens at the true θ_E), and on faint counter-images one at large θ_E
/// where every image is singly imaged (SLACS J1436−0000, J1142+1001).
pub fn theta_e_bounds(theta_e_guess: f64) -> (f64, f64) {
    (0.8 * theta_e_guess, 1.25 * theta_e_guess)
}

/// One fitted lens.
#[derive(Debug, Clone)]
pub struct LensFit {
    pub lens: LenstronomyLens,
    pub source_grid: SourceGrid,
    pub solution: Solution,
    /// Rays that missed the source grid, as a fraction of all.
    pub lost_fraction: f64,
    pub evaluations: usize,
    pub converged: bool,
}

/// What each start reached (recorded in `result.json`).
#[derive(Debug, Clone, Serialize)]
pub struct StartRecord {
    pub label: String,
    pub theta_e_start: f64,
    pub q_start: f64,
    pub theta_e_reached: f64,
    pub log_evidence: f64,
    pub chosen: bool,
}

/// Bounds of the search: |e| ≤ 0.5 (q ≥ 1/3: galaxy-scale lenses are
/// rounder; with the old 0.8, five of the twelve SLACS fits that failed ran to q = 0.11),
/// |γ| ≤ 0.3, θ_E within
/// `bounds`, centre within `center.1` of `center.0`.
const MAX_ELLIPTICITY: f64 = 0.5;

/// The lens model fitted, as lenstronomy's `lens_model_list`: an SIE with
/// external shear (`['SIE', 'SHEAR']`, the default) or an SIE alone
/// (`['SIE']`, the model of Bolton et al. 2008's SLACS fits: ellipticity and
/// shear trade against each other along a valley of nearly equal evidence,
/// so q is comparable with an SIE-only fit only when the shear is held at
/// zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum LensFamily {
    #[serde(rename = "SIE")]
    Sie,
    #[default]
    #[serde(rename = "SIE + SHEAR")]
    SieShear,
}

impl LensFamily {
    /// Parses the command-line / Python spelling: `sie` or `sie+shear`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "sie" => Ok(LensFamily::Sie),
            "sie+shear" => Ok(LensFamily::SieShear),
            _ => Err(format!("'{text}' is not a lens model: sie or sie+shear")),
        }
    }

    /// lenstronomy's `lens_model_list`.
    pub fn lens_model_list(self) -> &'static [&'static str] {
        match self {
            LensFamily::Sie => &["SIE"],
            LensFamily::SieShear => &["SIE", "SHEAR"],
        }
    }

    /// Whether the family carries an external shear (γ1, γ2).
    pub(crate) fn has_shear(self) -> bool {
        self == LensFamily::SieShear
    }

    /// Dimension of the search vector (ln θ_E, e1, e2, x, y[, γ1, γ2]).
    pub(crate) fn dim(self) -> usize {
        if self.has_shear() {
            7
        } else {
            5
        }
    }

    /// The search vector of `lens` (its shear dropped for an SIE alone).
    pub(crate) fn encode(self, lens: &LenstronomyLens) -> Vec<f64> {
        let mut x = vec![lens.theta_E.ln(), lens.e1, lens.e2, lens.center_x, lens.center_y];
        if self.has_shear() {
            x.extend([lens.gamma1, lens.gamma2]);
        }
        x
    }

    /// The lens of search vector `x`, None outside the bounds.
    pub(crate) fn decode(self, x: &[f64], bounds: (f64, f64), center: ((f64, f64), f64)) -> Option<LenstronomyLens> {
        let (gamma1, gamma2) = if self.has_shear() { (x[5], x[6]) } else { (0.0, 0.0) };
        let theta_e = x[0].exp();
        let ok = (bounds.0..=bounds.1).contains(&theta_e)
            && x[1].hypot(x[2]) <= MAX_ELLIPTICITY
            && (x[3] - center.0 .0).hypot(x[4] - center.0 .1) <= center.1
            && gamma1.hypot(gamma2) <= 0.3;
        ok.then_some(LenstronomyLens {
            theta_E: theta_e,
            e1: x[1],
            e2: x[2],
            center_x: x[3],
            center_y: x[4],
            gamma1,
            gamma2,
            Rs: 0.0,
            alpha_Rs: 0.0,
        })
    }

    /// `lens` as this family holds it (no shear for an SIE alone).
    pub fn restrict(self, lens: &LenstronomyLens) -> LenstronomyLens {
        if self.has_shear() {
            *lens
        } else {
            LenstronomyLens { gamma1: 0.0, gamma2: 0.0, ..*lens }
        }
    }

    /// A simplex's first steps: `[ln θ_E, e1, e2, centre, centre, γ1, γ2]`
    /// as given, truncated to the family's dimension.
    pub(crate) fn steps(self, all: [f64; 7]) -> Vec<f64> {
        all[..self.dim()].to_vec()
    }
}

/// A source grid covering the arc pixels traced through `lens` (pixel
/// centres), with 25 % margin and at least 4 image pixels of half-width.
pub fn source_grid_for(lens: &LenstronomyLens, grid: &PixelGrid, arc_pixels: &[usize], size: usize) -> SourceGrid {
    let model = lens.lens_model();
    let traced: Vec<(f64, f64)> =
        arc_pixels.iter().map(|&p| model.ray_shoot(grid.x_of_col(p % grid.nx), grid.y_of_row(p / grid.nx))).collect();
    if traced.is_empty() {
        return SourceGrid { size, half_width: 0.25 * grid.nx as f64 * grid.pixel_scale, center_x: lens.center_x, center_y: lens.center_y };
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in &traced {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let half = (0.5 * (x1 - x0).max(y1 - y0) * 1.25).max(4.0 * grid.pixel_scale);
    SourceGrid { size, half_width: half, center_x: 0.5 * (x0 + x1), center_y: 0.5 * (y0 + y1) }
}

impl LensProblem<'_> {
    fn ray_grid(&self, supersampling: usize) -> PixelGrid {
        PixelGrid { supersampling, ..*self.grid }
    }

    /// The inversion of the data for `lens` on `source`: at `lambda`, or at the
    /// evidence maximum when None. Returns the solution and the fraction of rays lost.
    pub fn solve(
        &self,
        lens: &LenstronomyLens,
        source: &SourceGrid,
        lambda: Option<f64>,
        options: &RefineOptions,
    ) -> Result<(Solution, f64), InversionError> {
        self.solve_ordered(lens, source, lambda, options, None).map(|(solution, lost, _)| (solution, lost))
    }

    /// [`Self::solve`] factorizing in `ordering` (AMD's when None); returns
    /// the ordering used too, for the next nearby lens.
    pub(crate) fn solve_ordered(
        &self,
        lens: &LenstronomyLens,
        source: &SourceGrid,
        lambda: Option<f64>,
        options: &RefineOptions,
        ordering: Option<&FillOrdering>,
    ) -> Result<(Solution, f64, FillOrdering), InversionError> {
        // Only pixels with weight get rows (the inversion ignores the others).
        let active: Vec<bool> = self.sigma.iter().zip(self.data).map(|(&s, &d)| has_weight(s, d)).collect();
        let op = LensingOperator::new_masked(
            &self.ray_grid(options.supersampling),
            &lens.lens_model(),
            source,
            self.psf,
            options.psf_floor,
            Some(&active),
        );
        let inversion = Inversion::with_ordering(&op, self.data, self.sigma, options.regularization, ordering)?;
        let solution = match lambda {
            Some(l) => inversion.solve(l)?,
            None => inversion.optimize()?.0,
        };
        Ok((solution, op.lost_fraction, inversion.ordering()))
    }

    /// ln ε of `lens` at `lambda` on a source grid fitted to it (−∞ on
    /// failure), factorized in `ordering` (a nearby lens's; AMD's when None).
    pub(crate) fn evidence_following(
        &self,
        lens: &LenstronomyLens,
        lambda: f64,
        options: &RefineOptions,
        ordering: Option<&FillOrdering>,
    ) -> f64 {
        let source = source_grid_for(lens, self.grid, self.arc_pixels, options.source_size);
        self.solve_ordered(lens, &source, Some(lambda), options, ordering).map_or(f64::NEG_INFINITY, |(s, _, _)| s.log_evidence)
    }

    /// The search's objective: −ln ε of `lens` ([`Self::evidence_following`]),
    /// or, for a lens that scatters the multiple-image positions beyond
    /// their threshold, a wall above every consistent lens's value that
    /// rises with the excess (so a simplex started outside walks back in).
    fn objective(&self, lens: &LenstronomyLens, lambda: f64, options: &RefineOptions, ordering: &FillOrdering) -> f64 {
        if let Some(positions) = self.positions {
            let excess = positions.excess(lens);
            if excess > 0.0 {
                return POSITIONS_WALL * (1.0 + excess / positions.threshold_arcsec);
            }
        }
        -self.evidence_following(lens, lambda, options, Some(ordering))
    }

    /// θ_E of the best [`Self::objective`] (the evidence, within the
    /// position threshold) among `start`'s θ_E × 0.6 … 1.6 (25 steps
    /// even in ln θ_E, clamped to the bounds, the source grid following each lens), the other
    /// parameters held: the evidence in θ_E is multimodal beyond ±15 %
    /// (measured on simulations), so a simplex started 30 % off can settle
    /// on the wrong side; the scan finds the right basin for 25 solves.
    fn scan_theta_e(&self, start: &LenstronomyLens, lambda: f64, options: &RefineOptions, ordering: &FillOrdering) -> LenstronomyLens {
        let (lo, hi) = self.theta_e_bounds;
        let factors: Vec<f64> = (0..25)
            .map(|k| (0.6f64.ln() + (1.6f64 / 0.6).ln() * k as f64 / 24.0).exp())
            .map(|f| (start.theta_E * f).clamp(lo, hi) / start.theta_E)
            .collect();
        let values: Vec<f64> = factors
            .par_iter()
            .map(|f| self.objective(&LenstronomyLens { theta_E: start.theta_E * f, ..*start }, lambda, options, ordering))
            .collect();
        let best = (0..factors.len()).min_by(|&a, &b| values[a].total_cmp(&values[b])).expect("25 factors");
        LenstronomyLens { theta_E: start.theta_E * factors[best], ..*start }
    }

    /// One round: λ by the evidence at `start`, optionally the θ_E scan, then
    /// Nelder–Mead on −ln ε over the lens.
    /// `step_scale` scales the simplex's first steps (1 for a search, less to polish).
    fn round(&self, start: &LenstronomyLens, options: &RefineOptions, evaluations: usize, scan: bool, step_scale: f64) -> Option<LensFit> {
        let start = &options.family.restrict(start);
        let first = source_grid_for(start, self.grid, self.arc_pixels, options.source_size);
        // λ and the fill-reducing ordering of the start serve the whole round.
        let (at_start, _, ordering) = self.solve_ordered(start, &first, None, options, None).ok()?;
        let lambda = at_start.lambda;
        let start = if scan { self.scan_theta_e(start, lambda, options, &ordering) } else { *start };
        let family = options.family;
        let objective = |x: &[f64]| -> f64 {
            family
                .decode(x, self.theta_e_bounds, self.center_bounds)
                .map_or(f64::INFINITY, |lens| self.objective(&lens, lambda, options, &ordering))
        };
        let s = self.grid.pixel_scale;
        let steps = family.steps([0.08, 0.05, 0.05, s, s, 0.02, 0.02].map(|v| v * step_scale));
        let best = nelder_mead(&objective, &family.encode(&start), &steps, options.simplex_tolerance, evaluations);
        let lens = family.decode(&best.x, self.theta_e_bounds, self.center_bounds)?;
        let source = source_grid_for(&lens, self.grid, self.arc_pixels, options.source_size);
        let (solution, lost_fraction, _) = self.solve_ordered(&lens, &source, Some(lambda), options, Some(&ordering)).ok()?;
        let scanned = if scan { 26 } else { 0 };
        Some(LensFit {
            lens,
            source_grid: source,
            solution,
            lost_fraction,
            evaluations: best.evaluations + 1 + scanned,
            converged: best.converged,
        })
    }
}

/// The objective of a lens inconsistent with the multiple-image positions
/// (−ln ε of real data is far below it).
const POSITIONS_WALL: f64 = 1e12;

/// Binning is skipped below this binned side (pixels): small cutouts are
/// fast anyway, and on a 64² test image at 0.06″ (PSF FWHM 0.1″) the binned
/// search settled on another point of the ellipticity–shear degeneracy
/// (q 0.85 for 0.75, at an evidence equal to the truth's), which the full
/// resolution avoids there.
const MIN_BINNED_SIDE: usize = 48;

/// The search's copy of a problem binned by `factor`: data, noise, PSF and arc pixels.
pub struct CoarseProblem {
    binned: Binned,
    psf: Option<Kernel>,
    arc_pixels: Vec<usize>,
}

impl CoarseProblem {
    /// Whether `grid` is binned by `factor`: its sides multiples of it and
    /// the binned image at least [`MIN_BINNED_SIDE`] pixels across.
    pub(crate) fn applies(grid: &PixelGrid, factor: usize) -> bool {
        factor >= 2 && grid.nx.is_multiple_of(factor) && grid.ny.is_multiple_of(factor) && grid.nx.min(grid.ny) / factor >= MIN_BINNED_SIDE
    }

    /// None unless [`Self::applies`] to the problem's grid.
    pub(crate) fn of(problem: &LensProblem, factor: usize) -> Option<Self> {
        if !Self::applies(problem.grid, factor) {
            return None;
        }
        let binned = bin_image(problem.data, problem.sigma, problem.grid, factor)?;
        Some(CoarseProblem {
            psf: problem.psf.map(|k| bin_kernel(k, factor)),
            arc_pixels: bin_pixels(problem.arc_pixels, problem.grid.nx, factor),
            binned,
        })
    }

    /// The binned problem, with `fine`'s bounds and positions.
    pub fn view<'a>(&'a self, fine: &LensProblem<'a>) -> LensProblem<'a> {
        LensProblem {
            data: &self.binned.data,
            sigma: &self.binned.sigma,
            grid: &self.binned.grid,
            psf: self.psf.as_ref(),
            arc_pixels: &self.arc_pixels,
            theta_e_bounds: fine.theta_e_bounds,
            center_bounds: fine.center_bounds,
            positions: fine.positions,
        }
    }
}

/// Refines from each of `starts` (label, lens) for a short budget (a θ_E
/// scan, then a simplex), in parallel; continues the best (by evidence) in
/// rounds whose source grid follows the lens, until the evaluation budget is
/// spent or a round converges without moving θ_E by more than 0.1 %. All of
/// this runs on the image binned by `search_binning` when its sides allow;
/// a short simplex with quarter steps then polishes the lens at full
/// resolution. Finally the source is re-solved on the finer grid with λ at
/// its evidence maximum.
pub fn refine(problem: &LensProblem, starts: &[(String, LenstronomyLens)], options: &RefineOptions) -> Option<(LensFit, Vec<StartRecord>)> {
    let coarse = if options.search_binning > 1 { CoarseProblem::of(problem, options.search_binning) } else { None };
    let search = coarse.as_ref().map_or(*problem, |c| c.view(problem));
    let explored: Vec<Option<LensFit>> =
        starts.par_iter().map(|(_, lens)| search.round(lens, options, options.evaluations_per_start, true, 1.0)).collect();
    // The best by evidence among the starts that reached a lens consistent
    // with the multiple-image positions (among all when none did).
    let consistent = |f: &LensFit| search.positions.is_none_or(|p| p.excess(&f.lens) <= 0.0);
    let best_index = explored
        .iter()
        .enumerate()
        .filter_map(|(k, f)| f.as_ref().map(|f| (k, (consistent(f), f.solution.log_evidence))))
        .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(a.1 .1.total_cmp(&b.1 .1)))?
        .0;
    let records: Vec<StartRecord> = starts
        .iter()
        .zip(&explored)
        .enumerate()
        .map(|(k, ((label, lens), fit))| StartRecord {
            label: label.clone(),
            theta_e_start: lens.theta_E,
            q_start: astrorim_physics::ellipticity::e1e2_to_q_phi(lens.e1, lens.e2).0,
            theta_e_reached: fit.as_ref().map_or(f64::NAN, |f| f.lens.theta_E),
            log_evidence: fit.as_ref().map_or(f64::NEG_INFINITY, |f| f.solution.log_evidence),
            chosen: k == best_index,
        })
        .collect();
    let mut best = explored.into_iter().nth(best_index).flatten()?;
    let mut spent: usize = best.evaluations;
    while spent < options.max_evaluations {
        let budget = (options.max_evaluations - spent).min(400);
        let Some(next) = search.round(&best.lens, options, budget, false, 1.0) else { break };
        spent += next.evaluations;
        let moved = (next.lens.theta_E / best.lens.theta_E - 1.0).abs();
        let converged = next.converged;
        // Each round re-sets the grid and λ, so evidences of rounds differ slightly: keep the latest.
        best = LensFit { evaluations: spent, ..next };
        if converged && moved < 1e-3 {
            break;
        }
    }
    if coarse.is_some() && options.polish_evaluations > 0 {
        if let Some(polished) = problem.round(&best.lens, options, options.polish_evaluations, false, 0.25) {
            best = LensFit { evaluations: spent + polished.evaluations, ..polished };
        }
    }
    if let Some(fine) = final_solve(problem, &best.lens, options) {
        best = LensFit { evaluations: best.evaluations, converged: best.converged, ..fine };
    }
    Some((best, records))
}

/// The source for `lens` on the final grid (`final_source_size`², the
/// finer PSF floor) with λ at its evidence maximum: what a refinement
/// reports. None when the inversion fails.
pub fn final_solve(problem: &LensProblem, lens: &LenstronomyLens, options: &RefineOptions) -> Option<LensFit> {
    let fine = RefineOptions { source_size: options.final_source_size, psf_floor: options.final_psf_floor, ..*options };
    let source = source_grid_for(lens, problem.grid, problem.arc_pixels, fine.final_source_size);
    let (solution, lost_fraction) = problem.solve(lens, &source, None, &fine).ok()?;
    Some(LensFit { lens: *lens, source_grid: source, solution, lost_fraction, evaluations: 1, converged: true })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lens_families_encode_and_decode_their_parameters() {
        let lens = LenstronomyLens {
            theta_E: 1.2,
            e1: 0.1,
            e2: -0.2,
            center_x: 0.01,
            center_y: -0.02,
            gamma1: 0.03,
            gamma2: -0.04,
            Rs: 0.0,
            alpha_Rs: 0.0,
        };
        let around = ((0.0, 0.0), 0.05);
        let with_shear = LensFamily::SieShear.decode(&LensFamily::SieShear.encode(&lens), (1.0, 1.5), around).unwrap();
        assert!((with_shear.theta_E - 1.2).abs() < 1e-12 && with_shear.gamma1 == 0.03 && with_shear.gamma2 == -0.04);
        let x = LensFamily::Sie.encode(&lens);
        assert_eq!(x.len(), 5);
        let alone = LensFamily::Sie.decode(&x, (1.0, 1.5), around).unwrap();
        assert_eq!((alone.gamma1, alone.gamma2, alone.e1, alone.e2), (0.0, 0.0, 0.1, -0.2));
        assert_eq!(LensFamily::Sie.restrict(&lens), alone);
        // Outside the bounds: θ_E, |e|, the centre.
        assert!(LensFamily::Sie.decode(&x, (1.3, 1.5), around).is_none());
        assert!(LensFamily::Sie.decode(&[1.2f64.ln(), 0.6, 0.0, 0.0, 0.0], (1.0, 1.5), around).is_none());
        assert!(LensFamily::Sie.decode(&[1.2f64.ln(), 0.0, 0.0, 0.06, 0.0], (1.0, 1.5), around).is_none());
        assert_eq!(LensFamily::parse("SIE+SHEAR"), Ok(LensFamily::SieShear));
        assert!(LensFamily::parse("nfw").is_err());
    }
}
