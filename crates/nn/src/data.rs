//! Training and evaluation batches from simulator chunks, and the symmetry
//! augmentations (flips and quarter turns) applied consistently to the
//! images, the source, the PSF and the truth parameters.

use crate::forward::{ForwardOperator, LinearOperator};
use astrorim_sim::dataset::Chunk;
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use std::collections::HashMap;
use std::f64::consts::{FRAC_PI_2, PI};

/// One batch of observations with everything the forward operator needs,
/// each sample scaled by its own observed maximum (`scale`), so that the
/// networks see O(1) values; the scaled source is the target.
#[derive(Debug, Clone)]
pub struct Batch {
    pub observed: Tensor<4>,
    pub sigma: Tensor<4>,
    /// Everything in the noiseless image that the lensed source does not
    /// explain (lens light, contaminants): clean − F(x_true; Θ_true).
    pub background: Tensor<4>,
    /// True Θ, [B, 9] (normalized parameterization).
    pub theta: Tensor<2>,
    pub psf: Tensor<4>,
    pub target: Tensor<4>,
    pub scale: Vec<f32>,
}

impl Batch {
    /// The samples `rows` of this batch (a range along the batch axis).
    pub fn rows(&self, rows: std::ops::Range<usize>) -> Batch {
        let (start, len) = (rows.start, rows.len());
        Batch {
            observed: self.observed.clone().narrow(0, start, len),
            sigma: self.sigma.clone().narrow(0, start, len),
            background: self.background.clone().narrow(0, start, len),
            theta: self.theta.clone().narrow(0, start, len),
            psf: self.psf.clone().narrow(0, start, len),
            target: self.target.clone().narrow(0, start, len),
            scale: self.scale[rows].to_vec(),
        }
    }

    /// The known-lens operator of this batch: F(·; Θ_true, PSF) + background.
    pub fn operator<'a>(&self, op: &'a ForwardOperator) -> LinearOperator<'a> {
        op.bind(&self.theta, &self.psf, Some(&self.background))
    }
}

/// A symmetry of the square pixel grid: optional flips of x (columns) and
/// y (rows), then `quarter_turns` rotations by +90° ((x, y) → (−y, x)).
/// The grid is symmetric about its centre, so these map pixels to pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Symmetry {
    pub flip_x: bool,
    pub flip_y: bool,
    pub quarter_turns: u8,
}

impl Symmetry {
    /// The paper's augmentation: each flip with probability ½, a rotation by
    /// k·90° with probability ½ (k uniform in 1..=3).
    pub fn random(rng: &mut impl Rng) -> Self {
        Symmetry {
            flip_x: rng.gen_bool(0.5),
            flip_y: rng.gen_bool(0.5),
            quarter_turns: if rng.gen_bool(0.5) { rng.gen_range(1..=3) } else { 0 },
        }
    }

    /// The eight distinct symmetries of the square grid (the dihedral group
    /// D4): no flip or a flip of x, then 0–3 quarter turns (flipping both
    /// axes is the half turn, so it adds nothing).
    pub fn all() -> [Symmetry; 8] {
        std::array::from_fn(|k| Symmetry { flip_x: k >= 4, flip_y: false, quarter_turns: (k % 4) as u8 })
    }

    /// The symmetry that undoes this one. With g = R^k ∘ F (the flips F
    /// first): one flip is a reflection, and a reflection conjugates R^k to
    /// R^−k, so g is its own inverse; with none or both (the half turn,
    /// which commutes with every turn) the inverse turns back by k.
    pub fn inverse(&self) -> Symmetry {
        let quarter_turns = if self.flip_x != self.flip_y { self.quarter_turns } else { (4 - self.quarter_turns % 4) % 4 };
        Symmetry { quarter_turns, ..*self }
    }

    /// The transformed copy of a row-major `side × side` image.
    pub fn image(&self, data: &[f32], side: usize) -> Vec<f32> {
        let last = side - 1;
        let mut out = data.to_vec();
        if self.flip_x {
            out = (0..side * side).map(|k| out[(k / side) * side + last - k % side]).collect();
        }
        if self.flip_y {
            out = (0..side * side).map(|k| out[(last - k / side) * side + k % side]).collect();
        }
        for _ in 0..self.quarter_turns {
            // I'[i, j] = I[N−1−j, i] rotates the content by +90° in (x, y).
            out = (0..side * side).map(|k| out[(last - k % side) * side + k / side]).collect();
        }
        out
    }

    /// Θ = (b, q, φ, x0, y0, γ, γ_φ, κ_s, r_s) of the transformed scene.
    /// Angles are returned in (−π/2, π/2] (both have period π).
    pub fn theta(&self, theta: &[f64; 9]) -> [f64; 9] {
        let mut t = *theta;
        if self.flip_x {
            t[2] = -t[2];
            t[3] = -t[3];
            t[6] = -t[6];
        }
        if self.flip_y {
            t[2] = -t[2];
            t[4] = -t[4];
            t[6] = -t[6];
        }
        for _ in 0..self.quarter_turns {
            t[2] += FRAC_PI_2;
            (t[3], t[4]) = (-t[4], t[3]);
            t[6] += FRAC_PI_2;
        }
        let wrap = |a: f64| a - PI * ((a - FRAC_PI_2) / PI).ceil();
        t[2] = wrap(t[2]);
        t[6] = wrap(t[6]);
        t
    }
}

/// The source-grid half-width (normalized image units) of sample `row` of a chunk.
pub fn source_half_width(chunk: &Chunk, row: usize, image_size: usize, source_size: usize) -> f32 {
    (source_size as f64 * chunk.source_pixel_scale[row] / (image_size as f64 * chunk.pixel_scale[row])) as f32
}

/// Forward operators by source-grid half-width: presets differ in the field
/// of view of their source grid (v5's is twice the others'), and one batch
/// binds one operator, so a batch of mixed samples is split into groups.
pub struct Operators {
    image_size: usize,
    source_size: usize,
    device: Device,
    by_width: HashMap<u32, ForwardOperator>,
}

/// Samples of a batch that share an operator: its key and their positions in the batch.
pub type Group = (u32, Vec<usize>);

impl Operators {
    pub fn new(image_size: usize, source_size: usize, device: &Device) -> Self {
        Operators { image_size, source_size, device: device.clone(), by_width: HashMap::new() }
    }

    /// Splits `rows` of `chunk` into groups of one half-width (in order of
    /// first appearance), creating their operators.
    pub fn groups(&mut self, chunk: &Chunk, rows: &[usize]) -> Vec<Group> {
        let mut groups: Vec<Group> = Vec::new();
        for (position, &row) in rows.iter().enumerate() {
            let width = source_half_width(chunk, row, self.image_size, self.source_size);
            let key = width.to_bits();
            self.by_width.entry(key).or_insert_with(|| ForwardOperator::new(self.image_size, 1, self.source_size, width, &self.device));
            match groups.iter_mut().find(|g| g.0 == key) {
                Some(g) => g.1.push(position),
                None => groups.push((key, vec![position])),
            }
        }
        groups
    }

    /// The operator of a group key returned by [`Operators::groups`].
    pub fn get(&self, key: u32) -> &ForwardOperator {
        &self.by_width[&key]
    }

    /// Batches of `rows` (each with its symmetry), one per group.
    pub fn batches(&mut self, chunk: &Chunk, rows: &[usize], symmetries: Option<&[Symmetry]>, psf_size: usize) -> Vec<(u32, Batch)> {
        self.groups(chunk, rows)
            .into_iter()
            .map(|(key, positions)| {
                let group_rows: Vec<usize> = positions.iter().map(|&p| rows[p]).collect();
                let group_symmetries: Option<Vec<Symmetry>> = symmetries.map(|s| positions.iter().map(|&p| s[p]).collect());
                (key, batch(chunk, &group_rows, group_symmetries.as_deref(), self.get(key), psf_size, &self.device))
            })
            .collect()
    }
}

/// Builds a batch from samples `rows` of `chunk`, each transformed by its
/// symmetry (`None`: none). The background is computed from the true Θ and
/// the noiseless image, so it is the known lens light of the known-lens
/// setting: exact for presets whose mass is the main SIE + shear + NFW (v1);
/// on presets with subhalos or a second lens the unmodelled mass leaks into
/// it, and those need the joint mode.
pub fn batch(
    chunk: &Chunk,
    rows: &[usize],
    symmetries: Option<&[Symmetry]>,
    op: &ForwardOperator,
    psf_size: usize,
    device: &Device,
) -> Batch {
    let (n, m, k) = (op.image_size, op.source_size, psf_size);
    let b = rows.len();
    let identity = vec![Symmetry::default(); b];
    let symmetries = symmetries.unwrap_or(&identity);
    let scale: Vec<f32> = rows.iter().map(|&r| chunk.image[r * n * n..(r + 1) * n * n].iter().cloned().fold(1e-6f32, f32::max)).collect();
    let take = |data: &[f32], side: usize, scaled: bool| -> Tensor<4> {
        let values: Vec<f32> = rows
            .iter()
            .zip(&scale)
            .zip(symmetries)
            .flat_map(|((&r, &s), sym)| {
                let divisor = if scaled { s } else { 1.0 };
                sym.image(&data[r * side * side..(r + 1) * side * side], side).into_iter().map(move |v| v / divisor)
            })
            .collect();
        Tensor::from_data(TensorData::new(values, [b, 1, side, side]), device)
    };
    let theta: Vec<f32> = rows
        .iter()
        .zip(symmetries)
        .flat_map(|(&r, sym)| {
            let t: [f64; 9] = chunk.astrorim[r * 9..(r + 1) * 9].try_into().expect("nine parameters");
            sym.theta(&t).map(|v| v as f32)
        })
        .collect();
    let theta = Tensor::<2>::from_data(TensorData::new(theta, [b, 9]), device);
    let psf = take(&chunk.psf, k, false);
    let target = take(&chunk.source, m, true);
    let background = take(&chunk.clean, n, true) - op.forward(&target, &theta, &psf, None);
    Batch { observed: take(&chunk.image, n, true), sigma: take(&chunk.noise, n, true), background, theta, psf, target, scale }
}
