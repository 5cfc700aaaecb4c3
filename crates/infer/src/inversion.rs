//! Semilinear inversion of a pixelated source for a given lens (Warren & Dye
//! 2003) with the regularization strength set by the Bayesian evidence
//! (Suyu et al. 2006).
//!
//! With the lensing operator F, the data d, the noise σ (W = diag σ⁻² over
//! the unmasked pixels), a regularization matrix R and strength λ, the most
//! probable source solves A s = Fᵀ W d with A = Fᵀ W F + λ R, and
//!
//! ln ε(λ) = −½ χ²(s) − ½ λ sᵀ R s − ½ ln det A + ½ N_s ln λ + ½ ln det R
//!           − ½ N_d ln 2π − Σ ln σ_i,
//!
//! the log marginal likelihood of d under the prior s ~ N(0, (λR)⁻¹)
//! (N_s source pixels, N_d unmasked image pixels). A is sparse: it is
//! factorized by faer's supernodal sparse Cholesky (AMD ordering), the
//! symbolic analysis once for all λ, and ln det A = 2 Σ ln L_jj.
//!
//! Regularizations (all positive definite: the source is taken as zero
//! beyond the grid edge, so the edge rows are differences to zero):
//! `brightness` (zeroth order, R = I), `gradient` (first differences along
//! x and y) and `curvature` (second differences along x and y).

use crate::operator::LensingOperator;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::perm::PermRef;
use faer::sparse::linalg::cholesky::supernodal::SupernodalLltRef;
use faer::sparse::linalg::cholesky::{
    factorize_symbolic_cholesky, CholeskySymbolicParams, SymbolicCholesky, SymbolicCholeskyRaw, SymmetricOrdering,
};
use faer::sparse::linalg::SupernodalThreshold;
use faer::sparse::{SparseColMat, SparseColMatRef, SymbolicSparseColMat, Triplet};
use faer::{Conj, Mat, Par, Side};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Errors of the inversion; messages say what to change.
#[derive(Debug, thiserror::Error)]
pub enum InversionError {
    #[error("{0}")]
    Input(String),
    #[error("the regularized system is not positive definite at λ = {lambda:.3e} (too weak a regularization for the data's coverage of the source grid)")]
    Singular { lambda: f64 },
}

/// The prior on the source's smoothness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Regularization {
    Brightness,
    Gradient,
    Curvature,
}

impl std::str::FromStr for Regularization {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "brightness" => Ok(Regularization::Brightness),
            "gradient" => Ok(Regularization::Gradient),
            "curvature" => Ok(Regularization::Curvature),
            other => Err(format!("'{other}' is not one of brightness, gradient, curvature")),
        }
    }
}

/// The rows of the finite-difference operator D whose DᵀD is R, on an
/// `m × m` grid with zeros beyond the edge.
fn difference_rows(m: usize, kind: Regularization) -> Vec<Vec<(usize, f64)>> {
    let idx = |i: usize, j: usize| i * m + j;
    let mut rows = Vec::new();
    match kind {
        Regularization::Brightness => rows.extend((0..m * m).map(|k| vec![(k, 1.0)])),
        Regularization::Gradient => {
            for i in 0..m {
                for j in 0..m {
                    // Forward differences along x and along y; the neighbour beyond the edge is zero.
                    let mut dx = vec![(idx(i, j), -1.0)];
                    if j + 1 < m {
                        dx.push((idx(i, j + 1), 1.0));
                    }
                    let mut dy = vec![(idx(i, j), -1.0)];
                    if i + 1 < m {
                        dy.push((idx(i + 1, j), 1.0));
                    }
                    rows.push(dx);
                    rows.push(dy);
                }
            }
        }
        Regularization::Curvature => {
            for i in 0..m {
                for j in 0..m {
                    let mut dxx = vec![(idx(i, j), -2.0)];
                    let mut dyy = vec![(idx(i, j), -2.0)];
                    if j > 0 {
                        dxx.push((idx(i, j - 1), 1.0));
                    }
                    if j + 1 < m {
                        dxx.push((idx(i, j + 1), 1.0));
                    }
                    if i > 0 {
                        dyy.push((idx(i - 1, j), 1.0));
                    }
                    if i + 1 < m {
                        dyy.push((idx(i + 1, j), 1.0));
                    }
                    rows.push(dxx);
                    rows.push(dyy);
                }
            }
        }
    }
    rows
}

/// The regularization matrix R = DᵀD of an `m × m` source grid and ln det R:
/// they depend on the grid's side and the kind of prior only, so a lens
/// search (one inversion per trial lens) builds and factorizes them once.
struct Prior {
    matrix: SparseColMat<usize, f64>,
    /// The lower triangle of `matrix` (rows ≥ column), what the Cholesky factorization reads.
    lower: SparseColMat<usize, f64>,
    log_det: f64,
}

impl Prior {
    fn build(m: usize, kind: Regularization) -> Self {
        let mut triplets = Vec::new();
        for row in difference_rows(m, kind) {
            for &(a, va) in &row {
                for &(b, vb) in &row {
                    triplets.push(Triplet::new(a, b, va * vb));
                }
            }
        }
        let matrix = matrix(m * m, &triplets);
        let factorizer = Factorizer::new(&matrix, None);
        let values = factorizer.factorize(matrix.as_ref()).expect("the regularization matrix is positive definite");
        let log_det = log_det(&factorizer.symbolic, &values);
        let lower = lower_triangle(&matrix);
        Prior { matrix, lower, log_det }
    }

    /// The prior of (`m`, `kind`), built on first use and shared after.
    fn cached(m: usize, kind: Regularization) -> Arc<Prior> {
        static CACHE: OnceLock<Mutex<HashMap<(usize, Regularization), Arc<Prior>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
        if let Some(p) = cache.lock().expect("the prior cache is never poisoned").get(&(m, kind)) {
            return Arc::clone(p);
        }
        let built = Arc::new(Prior::build(m, kind));
        let mut map = cache.lock().expect("the prior cache is never poisoned");
        // Bounded: a handful of grid sides per run; cleared if a long batch ever collects many.
        if map.len() > 64 {
            map.clear();
        }
        Arc::clone(map.entry((m, kind)).or_insert(built))
    }
}

/// The lower triangle (rows ≥ column) of Fᵀ W F over the `used` pixels
/// (W = diag σ⁻²): the Cholesky factorization reads only that triangle, so
/// the upper one is neither accumulated nor handed to the ordering.
///
/// Gustavson's column-by-column sparse product, written here because faer's
/// sparse product forms the whole of Gᵀ G (G = W^{1/2} F) and has no
/// triangular variant: G's entries are listed per source pixel (a
/// transpose), and column a of the triangle is Σ over the rows r holding a
/// of g_ra times row r's entries from a on (the operator's rows are sorted
/// by source pixel), accumulated in a dense vector one source grid long.
/// Measured against the outer products accumulated in a dense n × n
/// scratch (its predecessor; the same flops, 2026-12-02): 7.0 against
/// 6.0–7.2 ms for a 32² grid (86² image, 4.6 M products), 65–90 against
/// 120–150 ms for a 64² grid, whose n² scratch is 128 MB to clear and scan.
fn curvature_matrix(operator: &LensingOperator, used: &[usize], sigma: &[f64]) -> SparseColMat<usize, f64> {
    let n = operator.n_source;
    // G by rows: its entries' source pixels and values, and where each row ends
    // (u32 indices: G is read out of cache order, and half the bytes matter).
    let (mut g_cols, mut g_vals, mut row_end) = (Vec::new(), Vec::new(), Vec::with_capacity(used.len()));
    for &p in used {
        for (k, w) in operator.row(p) {
            g_cols.push(k as u32);
            g_vals.push(w / sigma[p]);
        }
        row_end.push(g_cols.len() as u32);
    }
    // The transpose: for source pixel a, the entries of G holding it, in
    // row order, each as (its index, the end of its row).
    let mut col_start = vec![0usize; n + 1];
    for &k in &g_cols {
        col_start[k as usize + 1] += 1;
    }
    for a in 0..n {
        col_start[a + 1] += col_start[a];
    }
    let mut fill = col_start.clone();
    let mut by_column = vec![(0u32, 0u32); g_cols.len()];
    let mut begin = 0;
    for &end in &row_end {
        for e in begin..end {
            let slot = &mut fill[g_cols[e as usize] as usize];
            by_column[*slot] = (e, end);
            *slot += 1;
        }
        begin = end;
    }
    let mut accumulator = vec![0.0; n];
    let (mut col_ptr, mut rows, mut vals) = (Vec::with_capacity(n + 1), Vec::new(), Vec::new());
    col_ptr.push(0);
    for a in 0..n {
        for &(e, end) in &by_column[col_start[a]..col_start[a + 1]] {
            let (e, end) = (e as usize, end as usize);
            let ga = g_vals[e];
            for (&b, &gb) in g_cols[e..end].iter().zip(&g_vals[e..end]) {
                accumulator[b as usize] += ga * gb;
            }
        }
        // Rows a.. of the column, in order (a branch-free scatter above and
        // one scan here beat tracking the touched rows).
        for (b, v) in accumulator.iter_mut().enumerate().skip(a) {
            if *v != 0.0 {
                rows.push(b);
                vals.push(std::mem::take(v));
            }
        }
        col_ptr.push(rows.len());
    }
    let symbolic = SymbolicSparseColMat::new_checked(n, n, col_ptr, None, rows);
    SparseColMat::new(symbolic, vals)
}

/// The entries of `m` with row ≥ column.
fn lower_triangle(m: &SparseColMat<usize, f64>) -> SparseColMat<usize, f64> {
    let n = m.ncols();
    let (mut col_ptr, mut rows, mut vals) = (vec![0usize], Vec::new(), Vec::new());
    for j in 0..n {
        for (i, &v) in m.as_ref().row_idx_of_col(j).zip(m.as_ref().val_of_col(j)).filter(|&(i, _)| i >= j) {
            rows.push(i);
            vals.push(v);
        }
        col_ptr.push(rows.len());
    }
    SparseColMat::new(SymbolicSparseColMat::new_checked(m.nrows(), n, col_ptr, None, rows), vals)
}

fn matrix(n: usize, triplets: &[Triplet<usize, usize, f64>]) -> SparseColMat<usize, f64> {
    SparseColMat::try_new_from_triplets(n, n, triplets).expect("indices are in range")
}

/// Two square matrices rewritten on the union of their sparsity patterns
/// (explicit zeros where only the other has an entry), so that A = C + λR
/// is a sum of value arrays on one pattern: a merge of each column's sorted
/// row indices.
fn on_union_pattern(c: &SparseColMat<usize, f64>, r: &SparseColMat<usize, f64>) -> (SparseColMat<usize, f64>, SparseColMat<usize, f64>) {
    let n = c.ncols();
    let (mut col_ptr, mut rows, mut c_vals, mut r_vals) = (vec![0usize], Vec::new(), Vec::new(), Vec::new());
    for j in 0..n {
        let (cr, cv) = (c.as_ref().row_idx_of_col_raw(j), c.as_ref().val_of_col(j));
        let (rr, rv) = (r.as_ref().row_idx_of_col_raw(j), r.as_ref().val_of_col(j));
        let (mut a, mut b) = (0, 0);
        while a < cr.len() || b < rr.len() {
            let row_c = cr.get(a).copied().unwrap_or(usize::MAX);
            let row_r = rr.get(b).copied().unwrap_or(usize::MAX);
            let row = row_c.min(row_r);
            rows.push(row);
            c_vals.push(if row_c == row {
                a += 1;
                cv[a - 1]
            } else {
                0.0
            });
            r_vals.push(if row_r == row {
                b += 1;
                rv[b - 1]
            } else {
                0.0
            });
        }
        col_ptr.push(rows.len());
    }
    let pattern = SymbolicSparseColMat::new_checked(n, n, col_ptr, None, rows);
    (SparseColMat::new(pattern.clone(), c_vals), SparseColMat::new(pattern, r_vals))
}

/// ln det of a factorized matrix: 2 Σ ln L_jj (faer picks a supernodal or
/// a simplicial layout of L; the diagonal is read from either).
fn log_det(symbolic: &SymbolicCholesky<usize>, values: &[f64]) -> f64 {
    let sum_ln_diagonal = match symbolic.raw() {
        SymbolicCholeskyRaw::Supernodal(s) => {
            let l = SupernodalLltRef::new(s, values);
            (0..s.n_supernodes())
                .map(|k| {
                    let block = l.supernode(k).val();
                    (0..block.ncols()).map(|j| block[(j, j)].ln()).sum::<f64>()
                })
                .sum::<f64>()
        }
        SymbolicCholeskyRaw::Simplicial(s) => (0..s.ncols())
            .map(|j| {
                let range = s.col_ptr()[j]..s.col_ptr()[j + 1];
                let k = range.clone().find(|&k| s.row_idx()[k] == j).expect("the factor stores its diagonal");
                values[k].ln()
            })
            .sum::<f64>(),
    };
    2.0 * sum_ln_diagonal
}

/// A fill-reducing ordering of the source pixels for the Cholesky factor:
/// AMD's for one lens's system, reused for nearby lenses. AMD costs about
/// as much as the numeric factorization it serves (measured on a lens search:
/// 9 % of the run), and a search's trial lenses give the normal equations
/// nearly the same pattern on a source grid of the same side, so one
/// ordering serves them all (any permutation gives the same solution; a
/// stale one only adds fill).
#[derive(Debug, Clone)]
pub struct FillOrdering {
    forward: Vec<usize>,
    inverse: Vec<usize>,
}

/// A factorizable system on a fixed sparsity pattern.
struct Factorizer {
    symbolic: SymbolicCholesky<usize>,
}

impl Factorizer {
    /// The symbolic analysis of `pattern`, with `ordering` or, when None, AMD's.
    fn new(pattern: &SparseColMat<usize, f64>, ordering: Option<&FillOrdering>) -> Self {
        let params =
            CholeskySymbolicParams { supernodal_flop_ratio_threshold: SupernodalThreshold::FORCE_SUPERNODAL, ..Default::default() };
        let ordering = match ordering {
            Some(o) if o.forward.len() == pattern.ncols() => {
                SymmetricOrdering::Custom(PermRef::new_checked(&o.forward, &o.inverse, pattern.ncols()))
            }
            _ => SymmetricOrdering::Amd,
        };
        let symbolic =
            factorize_symbolic_cholesky(pattern.symbolic(), Side::Lower, ordering, params).expect("symbolic analysis of a square pattern");
        Factorizer { symbolic }
    }

    /// The Cholesky values of `matrix` (same pattern), or None if not positive definite.
    fn factorize(&self, matrix: SparseColMatRef<'_, usize, f64>) -> Option<Vec<f64>> {
        let par = Par::Seq;
        let mut values = vec![0.0; self.symbolic.len_val()];
        let mut buffer = MemBuffer::new(self.symbolic.factorize_numeric_llt_scratch::<f64>(par, Default::default()));
        self.symbolic
            .factorize_numeric_llt(
                &mut values,
                matrix,
                Side::Lower,
                Default::default(),
                par,
                MemStack::new(&mut buffer),
                Default::default(),
            )
            .ok()?;
        Some(values)
    }

    /// Solves with a factorization from [`Factorizer::factorize`].
    fn solve(&self, values: &[f64], rhs: &[f64]) -> Vec<f64> {
        let par = Par::Seq;
        let llt = faer::sparse::linalg::cholesky::LltRef::new(&self.symbolic, values);
        let mut x = Mat::from_fn(rhs.len(), 1, |i, _| rhs[i]);
        let mut buffer = MemBuffer::new(self.symbolic.solve_in_place_scratch::<f64>(1, par));
        llt.solve_in_place_with_conj(Conj::No, x.as_mut(), par, MemStack::new(&mut buffer));
        (0..rhs.len()).map(|i| x[(i, 0)]).collect()
    }
}

/// Whether a pixel enters the inversion: a positive, finite σ (σ = ∞ is the
/// project's mask) and a finite datum.
pub fn has_weight(sigma: f64, datum: f64) -> bool {
    sigma.is_finite() && sigma > 0.0 && datum.is_finite()
}

/// One solution of the inversion.
#[derive(Debug, Clone, Serialize)]
pub struct Solution {
    /// Most probable source, row-major on the source grid.
    pub source: Vec<f64>,
    /// Model image F s (all pixels, masked ones included).
    pub model: Vec<f64>,
    pub lambda: f64,
    pub log_evidence: f64,
    /// χ² over the unmasked pixels and χ²/N_d.
    pub chi2: f64,
    pub reduced_chi2: f64,
    pub regularization: Regularization,
}

/// The inversion of one observation with one lens: everything that does
/// not depend on λ, prepared once.
pub struct Inversion<'a> {
    operator: &'a LensingOperator,
    regularization: Regularization,
    /// Unmasked pixels, their 1/σ_i and weighted data d_i/σ_i.
    used: Vec<usize>,
    inv_sigma: Vec<f64>,
    weighted_data: Vec<f64>,
    /// Fᵀ W d.
    rhs: Vec<f64>,
    /// The lower triangles of Fᵀ W F and R on one common pattern (values
    /// aligned), and the factorizer of A = Fᵀ W F + λ R.
    curvature: SparseColMat<usize, f64>,
    prior: SparseColMat<usize, f64>,
    factorizer: Factorizer,
    /// R in full (for sᵀ R s) and ln det R.
    regularizer: Arc<Prior>,
    /// −½ N_d ln 2π − Σ ln σ_i.
    log_norm: f64,
}

impl<'a> Inversion<'a> {
    /// Prepares the inversion of `data` (row-major like the operator's image)
    /// with per-pixel noise `sigma`; pixels whose σ is not a positive finite
    /// number (σ = ∞ is the project's mask) or whose datum is not finite
    /// have weight zero.
    pub fn new(operator: &'a LensingOperator, data: &[f64], sigma: &[f64], regularization: Regularization) -> Result<Self, InversionError> {
        Self::with_ordering(operator, data, sigma, regularization, None)
    }

    /// [`Inversion::new`] factorizing in `ordering` (from [`Inversion::ordering`]
    /// of a nearby lens on a source grid of the same side; AMD's own when None
    /// or of another size).
    pub fn with_ordering(
        operator: &'a LensingOperator,
        data: &[f64],
        sigma: &[f64],
        regularization: Regularization,
        ordering: Option<&FillOrdering>,
    ) -> Result<Self, InversionError> {
        let n_pixels = operator.nx * operator.ny;
        if data.len() != n_pixels || sigma.len() != n_pixels {
            return Err(InversionError::Input(format!(
                "data ({}) and noise ({}) must have one value per image pixel ({n_pixels})",
                data.len(),
                sigma.len()
            )));
        }
        let used: Vec<usize> = (0..n_pixels).filter(|&p| has_weight(sigma[p], data[p])).collect();
        if used.is_empty() {
            return Err(InversionError::Input("no pixel has a positive, finite noise value".into()));
        }
        let n = operator.n_source;
        let inv_sigma: Vec<f64> = used.iter().map(|&p| 1.0 / sigma[p]).collect();
        let weighted_data: Vec<f64> = used.iter().map(|&p| data[p] / sigma[p]).collect();
        let mut rhs = vec![0.0; n];
        for (r, &p) in used.iter().enumerate() {
            for (k, w) in operator.row(p) {
                rhs[k] += w / sigma[p] * weighted_data[r];
            }
        }
        let gtg = curvature_matrix(operator, &used, sigma);
        let regularizer = Prior::cached((n as f64).sqrt().round() as usize, regularization);
        let (curvature, prior) = on_union_pattern(&gtg, &regularizer.lower);
        let factorizer = Factorizer::new(&curvature, ordering);
        let log_norm = -0.5 * used.len() as f64 * (2.0 * std::f64::consts::PI).ln() - used.iter().map(|&p| sigma[p].ln()).sum::<f64>();
        Ok(Inversion { operator, regularization, used, inv_sigma, weighted_data, rhs, curvature, prior, factorizer, regularizer, log_norm })
    }

    /// The fill-reducing ordering this inversion factorizes in.
    pub fn ordering(&self) -> FillOrdering {
        let n = self.operator.n_source;
        match self.factorizer.symbolic.perm() {
            Some(perm) => {
                let (forward, inverse) = perm.arrays();
                FillOrdering { forward: forward.to_vec(), inverse: inverse.to_vec() }
            }
            None => FillOrdering { forward: (0..n).collect(), inverse: (0..n).collect() },
        }
    }

    /// Unmasked pixels N_d.
    pub fn n_data(&self) -> usize {
        self.used.len()
    }

    /// A natural scale of λ: tr(Fᵀ W F)/tr(R), where the two terms of A weigh alike.
    pub fn lambda_scale(&self) -> f64 {
        let trace = |m: &SparseColMat<usize, f64>| {
            (0..m.ncols())
                .map(|j| m.as_ref().row_idx_of_col(j).zip(m.as_ref().val_of_col(j)).filter(|(i, _)| *i == j).map(|(_, v)| *v).sum::<f64>())
                .sum::<f64>()
        };
        (trace(&self.curvature) / trace(&self.prior)).max(f64::MIN_POSITIVE)
    }

    /// The most probable source and the evidence at `lambda` (> 0).
    pub fn solve(&self, lambda: f64) -> Result<Solution, InversionError> {
        if !(lambda > 0.0 && lambda.is_finite()) {
            return Err(InversionError::Input(format!("lambda must be a positive number, got {lambda}")));
        }
        let values: Vec<f64> = self.curvature.val().iter().zip(self.prior.val()).map(|(c, r)| c + lambda * r).collect();
        let a = SparseColMatRef::new(self.curvature.symbolic(), &values);
        let factor = self.factorizer.factorize(a).ok_or(InversionError::Singular { lambda })?;
        let source = self.factorizer.solve(&factor, &self.rhs);
        let model = self.operator.apply(&source);
        let chi2: f64 =
            self.used.iter().zip(&self.weighted_data).zip(&self.inv_sigma).map(|((&p, wd), w)| (wd - model[p] * w).powi(2)).sum();
        let prior_s = self.regularizer.matrix.as_ref() * faer::ColRef::from_slice(&source);
        let s_r_s: f64 = source.iter().zip(prior_s.iter()).map(|(a, b)| a * b).sum();
        let n_s = self.operator.n_source as f64;
        let log_evidence = -0.5 * chi2 - 0.5 * lambda * s_r_s - 0.5 * log_det(&self.factorizer.symbolic, &factor)
            + 0.5 * n_s * lambda.ln()
            + 0.5 * self.regularizer.log_det
            + self.log_norm;
        Ok(Solution {
            source,
            model,
            lambda,
            log_evidence,
            chi2,
            reduced_chi2: chi2 / self.used.len() as f64,
            regularization: self.regularization,
        })
    }

    /// λ maximizing the evidence: a walk over the grid 10⁻⁶…10⁴ ×
    /// [`Self::lambda_scale`] in steps of 1 dex, from the scale towards the
    /// larger ln ε until it falls (two grid points solved in parallel per
    /// step: the grid point a full scan of the 11 picks wherever ln ε(log λ)
    /// is unimodal on the grid, in 5–7 solves), then successive parabolic
    /// interpolation of ln ε(log λ) within ±1 dex of the best point until the
    /// bracket is 0.01 dex wide or the vertex is within 0.001 dex of the best
    /// (steps of 2 dex took as many solves in all on the 64² benchmark and
    /// missed the maximum on one image by Δln ε = 6). Returns the best solution and
    /// every evaluated (λ, ln ε), sorted by λ (λ where A is not positive
    /// definite are left out).
    pub fn optimize(&self) -> Result<(Solution, Vec<(f64, f64)>), InversionError> {
        let base = self.lambda_scale().log10();
        let mut curve: Vec<(f64, f64)> = Vec::new();
        let mut best: Option<Solution> = None;
        // Solves at the given log10 λ in parallel (the solves are independent)
        // and records each in the curve and as the best so far, in order;
        // returns their ln ε (−∞ where A is singular).
        let solve_all = |log_lambdas: &[f64], curve: &mut Vec<(f64, f64)>, best: &mut Option<Solution>| -> Vec<f64> {
            let solved: Vec<Result<Solution, InversionError>> = log_lambdas.par_iter().map(|&l| self.solve(10f64.powf(l))).collect();
            solved
                .into_iter()
                .map(|result| match result {
                    Ok(s) => {
                        let e = s.log_evidence;
                        curve.push((s.lambda, e));
                        if best.as_ref().is_none_or(|b| e > b.log_evidence) {
                            *best = Some(s);
                        }
                        e
                    }
                    Err(_) => f64::NEG_INFINITY,
                })
                .collect()
        };
        let grid: Vec<f64> = (0..=10).map(|k| base - 6.0 + k as f64).collect();
        let mut values = vec![f64::NAN; grid.len()];
        // Solves the grid points `ks` not yet solved.
        let scan = |ks: &[usize], values: &mut [f64], curve: &mut Vec<(f64, f64)>, best: &mut Option<Solution>| {
            let todo: Vec<usize> = ks.iter().copied().filter(|&k| k < grid.len() && values[k].is_nan()).collect();
            let logs: Vec<f64> = todo.iter().map(|&k| grid[k]).collect();
            for (k, e) in todo.into_iter().zip(solve_all(&logs, curve, best)) {
                values[k] = e;
            }
        };
        // Walk the grid from λ_scale towards the larger ln ε until it falls
        // or the grid ends.
        let mut k_best = 6;
        scan(&[5, 6, 7], &mut values, &mut curve, &mut best);
        let step: isize = if values[7] > values[6] && values[7] >= values[5] {
            1
        } else if values[5] > values[6] {
            -1
        } else if values[6] == f64::NEG_INFINITY {
            // Singular at all three: more regularization conditions A better.
            1
        } else {
            0
        };
        if step != 0 {
            k_best = (6 + step) as usize;
            let last = grid.len() as isize - 1;
            // Each round solves the next two points together.
            while k_best != 0 && k_best != grid.len() - 1 {
                let (one, two) = (k_best as isize + step, k_best as isize + 2 * step);
                let ahead: Vec<usize> = [one, two].into_iter().filter(|&k| (0..=last).contains(&k)).map(|k| k as usize).collect();
                scan(&ahead, &mut values, &mut curve, &mut best);
                if !(values[one as usize] > values[k_best]) {
                    break;
                }
                k_best = one as usize;
                if !(0..=last).contains(&two) || !(values[two as usize] > values[k_best]) {
                    break;
                }
                k_best = two as usize;
            }
        }
        if best.is_none() {
            return Err(InversionError::Singular { lambda: 10f64.powf(grid[10]) });
        }
        if k_best == 0 || k_best == grid.len() - 1 {
            // The maximum is at the edge of the scanned range: report it as found.
            curve.sort_by(|x, y| x.0.total_cmp(&y.0));
            return Ok((best.expect("checked above"), curve));
        }
        // Successive parabolic interpolation inside the bracket around the best
        // grid point (ln ε is smooth in log λ near its maximum), falling back
        // to bisecting the larger side when the parabola leaves the bracket.
        // Beside each vertex x a second point is solved in parallel, x + (x − b)
        // beyond it: ln ε is steep on one side of its maximum, so the vertices
        // alone creep up on it from one side while the far end of the bracket
        // stays 1 dex away (8–9 sequential solves on the 64² benchmark); the
        // point beyond brings that end in.
        let (mut a, mut b, mut c) =
            ((grid[k_best - 1], values[k_best - 1]), (grid[k_best], values[k_best]), (grid[k_best + 1], values[k_best + 1]));
        for _ in 0..20 {
            if c.0 - a.0 < 0.01 {
                break;
            }
            let (p, q) = ((b.0 - a.0) * (b.1 - c.1), (b.0 - c.0) * (b.1 - a.1));
            let denominator = p - q;
            let mut x = if denominator.abs() > 1e-300 { b.0 - 0.5 * ((b.0 - a.0) * p - (b.0 - c.0) * q) / denominator } else { f64::NAN };
            if (x - b.0).abs() < 0.001 {
                // The parabola's vertex is the current best to 0.001 dex: converged.
                break;
            }
            let inside = |t: f64| t > a.0 + 1e-3 && t < c.0 - 1e-3;
            if !inside(x) {
                x = if b.0 - a.0 > c.0 - b.0 { 0.5 * (a.0 + b.0) } else { 0.5 * (b.0 + c.0) };
            }
            let beyond = 2.0 * x - b.0;
            let points: Vec<f64> = if inside(beyond) { vec![x, beyond] } else { vec![x] };
            let mut bracket = vec![a, b, c];
            bracket.extend(points.iter().copied().zip(solve_all(&points, &mut curve, &mut best)));
            bracket.sort_by(|u, v| u.0.total_cmp(&v.0));
            let k = (1..bracket.len() - 1).fold(1, |k, j| if bracket[j].1 > bracket[k].1 { j } else { k });
            (a, b, c) = (bracket[k - 1], bracket[k], bracket[k + 1]);
        }
        curve.sort_by(|x, y| x.0.total_cmp(&y.0));
        Ok((best.expect("checked above"), curve))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::SourceGrid;
    use astrorim_physics::mass::{LensModel, Shear, Sie};
    use astrorim_physics::psf::{Kernel, PsfShape};
    use astrorim_physics::PixelGrid;
    use faer::linalg::solvers::{DenseSolveCore, Solve};
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    fn lens() -> LensModel {
        LensModel::new(vec![Box::new(Sie::new(0.7, 0.08, -0.04, 0.01, 0.02)), Box::new(Shear::new(0.03, -0.01, 0.0, 0.0))])
    }

    /// A lensed Gaussian blob on the source grid plus Gaussian noise of σ
    /// (every 7th pixel masked with σ = ∞).
    fn observation(nx: usize, scale: f64, source: &SourceGrid, sigma: f64, seed: u64) -> (LensingOperator, Vec<f64>, Vec<f64>, Vec<f64>) {
        let grid = PixelGrid::new(nx, nx, scale, 2).unwrap();
        let psf = Kernel::sample(PsfShape::Gaussian { fwhm: 2.5 * scale, e1: 0.0, e2: 0.0 }, scale, 7);
        let op = LensingOperator::new(&grid, &lens(), source, Some(&psf), 0.0);
        let truth: Vec<f64> = (0..source.size * source.size)
            .map(|k| {
                let (x, y) = source.center_of(k);
                (-((x - 0.05).powi(2) + (y + 0.03).powi(2)) / (2.0 * 0.08f64.powi(2))).exp() * 10.0
            })
            .collect();
        let clean = op.apply(&truth);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let noise = Normal::new(0.0, sigma).unwrap();
        let data: Vec<f64> = clean.iter().map(|v| v + noise.sample(&mut rng)).collect();
        let sigmas: Vec<f64> = (0..nx * nx).map(|p| if p % 7 == 3 { f64::INFINITY } else { sigma }).collect();
        (op, data, sigmas, truth)
    }

    /// The evidence as the Gaussian marginal likelihood ln N(d; 0, C_D + F (λR)⁻¹ Fᵀ)
    /// over the unmasked pixels, by dense linear algebra: a formula that shares
    /// nothing with the sparse Suyu expression but its inputs.
    fn dense_evidence(op: &LensingOperator, data: &[f64], sigma: &[f64], kind: Regularization, lambda: f64) -> (f64, Vec<f64>) {
        let n = op.n_source;
        let used: Vec<usize> = (0..data.len()).filter(|&p| sigma[p].is_finite()).collect();
        let mut f = Mat::<f64>::zeros(used.len(), n);
        for (r, &p) in used.iter().enumerate() {
            for (k, w) in op.row(p) {
                f[(r, k)] = w;
            }
        }
        let mut prior = Mat::<f64>::zeros(n, n);
        for row in difference_rows((n as f64).sqrt() as usize, kind) {
            for &(a, va) in &row {
                for &(b, vb) in &row {
                    prior[(a, b)] += lambda * va * vb;
                }
            }
        }
        let prior_inv = prior.llt(Side::Lower).unwrap().inverse();
        let mut cov = &f * &prior_inv * f.transpose();
        for (r, &p) in used.iter().enumerate() {
            cov[(r, r)] += sigma[p] * sigma[p];
        }
        let llt = cov.llt(Side::Lower).unwrap();
        let d = Mat::from_fn(used.len(), 1, |r, _| data[used[r]]);
        let x = llt.solve(&d);
        let quad: f64 = (0..used.len()).map(|r| d[(r, 0)] * x[(r, 0)]).sum();
        let l = llt.L();
        let log_det: f64 = (0..used.len()).map(|r| 2.0 * l[(r, r)].ln()).sum();
        let evidence = -0.5 * quad - 0.5 * log_det - 0.5 * used.len() as f64 * (2.0 * std::f64::consts::PI).ln();
        // Most probable source: (λR)⁻¹ Fᵀ Σ⁻¹ d (the posterior mean).
        let source = &prior_inv * f.transpose() * &x;
        (evidence, (0..n).map(|k| source[(k, 0)]).collect())
    }

    #[test]
    fn evidence_and_source_equal_the_dense_gaussian_marginal_likelihood() {
        let source = SourceGrid { size: 8, half_width: 0.45, center_x: 0.0, center_y: 0.0 };
        let (op, data, sigma, _) = observation(16, 0.1, &source, 0.3, 1);
        for kind in [Regularization::Brightness, Regularization::Gradient, Regularization::Curvature] {
            let inversion = Inversion::new(&op, &data, &sigma, kind).unwrap();
            for lambda in [0.05, 2.0, 40.0] {
                let ours = inversion.solve(lambda).unwrap();
                let (evidence, s) = dense_evidence(&op, &data, &sigma, kind, lambda);
                assert!(
                    (ours.log_evidence - evidence).abs() < 1e-8 * evidence.abs(),
                    "{kind:?} λ = {lambda}: {} vs dense {evidence}",
                    ours.log_evidence
                );
                let worst = ours.source.iter().zip(&s).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
                assert!(worst < 1e-8 * s.iter().fold(1.0f64, |m, v| m.max(v.abs())), "{kind:?} λ = {lambda}: source differs by {worst}");
            }
        }
    }

    #[test]
    fn the_curvature_matrix_holds_the_lower_triangle_of_ft_w_f() {
        let source = SourceGrid { size: 8, half_width: 0.45, center_x: 0.0, center_y: 0.0 };
        let (op, _, mut sigma, _) = observation(16, 0.1, &source, 0.3, 1);
        // Unequal weights and a masked pixel.
        sigma.iter_mut().enumerate().for_each(|(p, s)| *s *= 1.0 + 0.01 * (p % 7) as f64);
        sigma[40] = f64::INFINITY;
        let used: Vec<usize> = (0..sigma.len()).filter(|&p| sigma[p].is_finite()).collect();
        let n = op.n_source;
        // F column by column (F e_k), then Fᵀ W F densely.
        let columns: Vec<Vec<f64>> = (0..n).map(|k| op.apply(&(0..n).map(|j| f64::from(u8::from(j == k))).collect::<Vec<_>>())).collect();
        let expected = |a: usize, b: usize| used.iter().map(|&p| columns[a][p] * columns[b][p] / (sigma[p] * sigma[p])).sum::<f64>();
        let m = curvature_matrix(&op, &used, &sigma);
        let mut stored = vec![vec![0.0; n]; n];
        for j in 0..n {
            for (i, &v) in m.as_ref().row_idx_of_col(j).zip(m.as_ref().val_of_col(j)) {
                assert!(i >= j, "({i}, {j}) is above the diagonal");
                stored[j][i] = v;
            }
        }
        for j in 0..n {
            for i in j..n {
                let e = expected(i, j);
                assert!((stored[j][i] - e).abs() < 1e-9 * (1.0 + e.abs()), "({i}, {j}): {} vs {e}", stored[j][i]);
            }
        }
    }

    #[test]
    fn another_lens_ordering_gives_the_same_solution_and_evidence() {
        let source = SourceGrid { size: 12, half_width: 0.45, center_x: 0.0, center_y: 0.0 };
        let (op, data, sigma, _) = observation(24, 0.06, &source, 0.2, 4);
        // The ordering of a lens 10 % heavier on a grid of the same side (a
        // search's earlier trial), and of a grid of another side (ignored).
        let grid = PixelGrid::new(24, 24, 0.06, 2).unwrap();
        let heavier = LensModel::new(vec![Box::new(Sie::new(0.77, 0.08, -0.04, 0.01, 0.02))]);
        let other = LensingOperator::new(&grid, &heavier, &source, None, 0.0);
        let ordering = Inversion::new(&other, &data, &sigma, Regularization::Curvature).unwrap().ordering();
        let small = SourceGrid { size: 8, ..source };
        let wrong_size =
            Inversion::new(&LensingOperator::new(&grid, &heavier, &small, None, 0.0), &data, &sigma, Regularization::Curvature)
                .unwrap()
                .ordering();
        let own = Inversion::new(&op, &data, &sigma, Regularization::Curvature).unwrap();
        assert_ne!(own.ordering().forward, ordering.forward, "the two lenses' AMD orderings differ");
        for reused in [&ordering, &wrong_size] {
            let with = Inversion::with_ordering(&op, &data, &sigma, Regularization::Curvature, Some(reused)).unwrap();
            for lambda in [0.1, 3.0] {
                let (a, b) = (own.solve(lambda).unwrap(), with.solve(lambda).unwrap());
                assert!((a.log_evidence - b.log_evidence).abs() < 1e-9 * a.log_evidence.abs(), "{} vs {}", a.log_evidence, b.log_evidence);
                let worst = a.source.iter().zip(&b.source).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
                assert!(worst < 1e-9 * a.source.iter().fold(1.0f64, |m, v| m.max(v.abs())), "λ = {lambda}: sources differ by {worst}");
            }
        }
    }

    #[test]
    fn the_optimum_is_an_evidence_maximum_and_fits_to_the_noise() {
        let source = SourceGrid { size: 24, half_width: 0.4, center_x: 0.0, center_y: 0.0 };
        let (op, data, sigma, truth) = observation(40, 0.05, &source, 0.05, 2);
        let inversion = Inversion::new(&op, &data, &sigma, Regularization::Gradient).unwrap();
        let (best, curve) = inversion.optimize().unwrap();
        assert!(curve.windows(2).all(|w| w[0].0 < w[1].0), "sorted by λ");
        // Refined: solved points within 0.02 dex on both sides of the optimum.
        let near = |side: f64| curve.iter().any(|&(l, _)| side * (l / best.lambda).log10() > 0.0 && (l / best.lambda).log10().abs() < 0.02);
        assert!(near(-1.0) && near(1.0), "bracket around λ = {}: {curve:?}", best.lambda);
        // The walk found the maximum a full scan of the grid finds.
        let base = inversion.lambda_scale().log10();
        for k in 0..=10 {
            let lambda = 10f64.powf(base - 6.0 + k as f64);
            if let Ok(s) = inversion.solve(lambda) {
                assert!(s.log_evidence <= best.log_evidence, "grid λ = {lambda} beats the optimum");
            }
        }
        for &(lambda, e) in &curve {
            assert!(e <= best.log_evidence + 1e-9, "λ = {lambda} has ln ε {e} above the optimum {}", best.log_evidence);
        }
        for factor in [0.9, 1.1] {
            assert!(inversion.solve(best.lambda * factor).unwrap().log_evidence < best.log_evidence);
        }
        assert!((0.8..1.2).contains(&best.reduced_chi2), "reduced χ² {}", best.reduced_chi2);
        // The source is recovered: error well below the signal.
        let err =
            (best.source.iter().zip(&truth).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / truth.iter().map(|b| b * b).sum::<f64>()).sqrt();
        assert!(err < 0.2, "relative source error {err}");
    }

    #[test]
    fn bad_inputs_are_refused() {
        let source = SourceGrid { size: 6, half_width: 0.4, center_x: 0.0, center_y: 0.0 };
        let (op, data, sigma, _) = observation(12, 0.1, &source, 0.1, 3);
        assert!(Inversion::new(&op, &data[1..], &sigma, Regularization::Gradient).is_err());
        assert!(Inversion::new(&op, &data, &vec![f64::INFINITY; sigma.len()], Regularization::Gradient).is_err());
        let inversion = Inversion::new(&op, &data, &sigma, Regularization::Gradient).unwrap();
        assert!(inversion.solve(0.0).is_err() && inversion.solve(-1.0).is_err() && inversion.solve(f64::NAN).is_err());
    }
}
