//! The data-parallel training step: a step's samples are cut into
//! [`PARTS`] parts of nearly equal size, the parts' losses are differentiated
//! in parallel on rayon's pool (the second through a fork of the model with
//! its own autodiff graph), and the parts' gradients are summed.
//!
//! Why: on the flex CPU backend a training step kept ~1.2 of 2 cores busy
//! (perf, 2026-12-03: the GEMMs run on rayon's workers, but im2col, the
//! conv-transpose scatter and every elementwise kernel run on the calling
//! thread), so two half-batches side by side fill the second core. The
//! batch loss is a mean over samples (every term of the training loss is),
//! so each part is weighted by its share of the batch and the parts' losses
//! sum to the whole batch's. The cut is fixed — always [`PARTS`] parts,
//! whatever the number of cores — and the sum runs in part order, so a
//! step's gradient does not depend on the thread count.

use crate::data::Batch;
use crate::model::AstroRim;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use rayon::prelude::*;

/// How many parts a training step's batch is cut into.
pub const PARTS: usize = 2;

/// A part of a step: (operator key, sub-batch, its share of the whole batch's samples).
pub type Part = Vec<(u32, Batch, f64)>;

/// Cuts a step's operator groups into at most [`PARTS`] parts of nearly
/// equal sample counts; a group that straddles a cut is divided along its
/// batch axis. Each piece carries its share of the whole batch, so the
/// weighted sum of the pieces' mean losses is the batch's mean loss.
pub fn split(groups: Vec<(u32, Batch)>) -> Vec<Part> {
    let total: usize = groups.iter().map(|(_, b)| b.scale.len()).sum();
    let cuts: Vec<usize> = (0..=PARTS).map(|k| k * total / PARTS).collect();
    let mut parts: Vec<Part> = vec![Vec::new(); PARTS];
    let mut offset = 0;
    for (key, batch) in groups {
        let len = batch.scale.len();
        let mut start = 0;
        while start < len {
            let part = (0..PARTS).find(|&p| offset + start < cuts[p + 1]).expect("offset below the total");
            let end = (cuts[part + 1] - offset).min(len);
            let piece = if start == 0 && end == len { batch.clone() } else { batch.rows(start..end) };
            parts[part].push((key, piece, (end - start) as f64 / total as f64));
            start = end;
        }
        offset += len;
    }
    parts.retain(|p| !p.is_empty());
    parts
}

/// A training step's loss value and its gradients for the RIM and the forward model.
pub struct StepGradients {
    pub value: f64,
    pub rim: GradientsParams,
    pub forward: Option<GradientsParams>,
}

/// Differentiates `part_loss` over every part in parallel, the first with
/// `model`, the others with forks of it (their own autodiff graphs), and sums
/// the gradients (by parameter id, in part order).
pub fn gradients<F>(model: &AstroRim, device: &Device, parts: &[Part], part_loss: &F) -> StepGradients
where
    F: Fn(&AstroRim, &Part) -> Tensor<1> + Sync,
{
    let differentiate = |m: &AstroRim, part: &Part| {
        let loss = part_loss(m, part);
        let value = loss.clone().into_scalar::<f32>() as f64;
        let mut grads = loss.backward();
        let rim = GradientsParams::from_module(&mut grads, &m.rim);
        let forward = m.forward.as_ref().map(|f| GradientsParams::from_module(&mut grads, f));
        StepGradients { value, rim, forward }
    };
    // On rayon's pool, so that the GEMMs the parts start share its threads
    // with the parts instead of oversubscribing the cores.
    let mut results: Vec<StepGradients> = parts
        .par_iter()
        .enumerate()
        .map(|(k, part)| if k == 0 { differentiate(model, part) } else { differentiate(&model.clone().fork(device), part) })
        .collect();
    let mut total = results.remove(0);
    for part in results {
        total.value += part.value;
        model.rim.visit(&mut AddGrads { into: &mut total.rim, from: part.rim });
        if let (Some(f), Some(into), Some(from)) = (&model.forward, total.forward.as_mut(), part.forward) {
            f.visit(&mut AddGrads { into, from });
        }
    }
    total
}

/// Adds the gradients of `from` into `into`, parameter by parameter.
struct AddGrads<'a> {
    into: &'a mut GradientsParams,
    from: GradientsParams,
}

impl ModuleVisitor for AddGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.from.remove::<D>(param.id) {
            let sum = match self.into.remove::<D>(param.id) {
                Some(h) => h + g,
                None => g,
            };
            self.into.register(param.id, sum);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Mode;
    use burn::module::ModuleMapper;
    use burn::tensor::Distribution;
    use std::collections::HashMap;

    /// Every parameter redrawn (the RIM's output layer starts at zero, which
    /// would leave the other layers without gradient).
    struct Redraw;

    impl ModuleMapper for Redraw {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| Tensor::random(t.shape(), Distribution::Normal(0.0, 0.3), &t.device()))
        }
    }

    /// Every gradient of a module, flattened, by parameter (None: the
    /// parameter does not reach the loss).
    struct Collect<'a>(&'a GradientsParams, Vec<Option<Vec<f32>>>);

    impl ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.1.push(self.0.get::<D>(param.id).map(|g| g.into_data().try_to_vec::<f32>().expect("f32")));
        }
    }

    fn batch(b: usize, side: usize, device: &Device) -> Batch {
        let image = || Tensor::<4>::random([b, 1, side, side], Distribution::Normal(0.0, 1.0), device);
        Batch {
            observed: image(),
            sigma: image().abs() + 0.1,
            background: image(),
            theta: Tensor::random([b, 9], Distribution::Default, device),
            psf: Tensor::random([b, 1, 3, 3], Distribution::Default, device),
            target: image(),
            scale: (0..b).map(|i| 1.0 + i as f32).collect(),
        }
    }

    /// A stand-in batch loss that is a mean over samples, as the training
    /// loss is: one RIM update of the target given the data, its squared
    /// distance from the background, weighted by each sample's scale.
    fn mean_loss(m: &AstroRim, b: &Batch) -> Tensor<1> {
        let [n, _, side, _] = b.target.dims();
        let state = m.rim.initial_state(n, side, &b.target.device());
        let (dx, _) = m.rim.step(b.target.clone(), b.observed.clone(), state);
        let scale = Tensor::<1>::from_floats(b.scale.as_slice(), &b.target.device()).reshape([n, 1]);
        let rim = ((dx - b.background.clone()).square().reshape([n as i64, -1]).mean_dim(1) * scale).mean();
        match &m.forward {
            Some(f) => rim + (f.predict(b.observed.clone()).theta - b.theta.clone()).square().mean(),
            None => rim,
        }
    }

    #[test]
    fn split_cuts_into_equal_parts_with_the_batch_shares() {
        let device = Device::default();
        for sizes in [vec![5], vec![2, 3], vec![1, 1, 4], vec![1]] {
            let total: usize = sizes.iter().sum();
            let groups: Vec<(u32, Batch)> = sizes.iter().enumerate().map(|(k, &n)| (k as u32, batch(n, 8, &device))).collect();
            let scales: Vec<(u32, Vec<f32>)> = groups.iter().map(|(k, b)| (*k, b.scale.clone())).collect();
            let parts = split(groups);
            assert_eq!(parts.len(), total.min(PARTS), "{sizes:?}");
            let counts: Vec<usize> = parts.iter().map(|p| p.iter().map(|(_, b, _)| b.scale.len()).sum()).collect();
            assert_eq!(
                counts,
                (0..parts.len()).map(|k| (k + 1) * total / PARTS.min(total) - k * total / PARTS.min(total)).collect::<Vec<_>>()
            );
            // Pieces keep their group's samples in order, with their share.
            let mut rejoined: HashMap<u32, Vec<f32>> = HashMap::new();
            for (key, b, w) in parts.iter().flatten() {
                assert!((w - b.scale.len() as f64 / total as f64).abs() < 1e-15);
                rejoined.entry(*key).or_default().extend(&b.scale);
            }
            for (key, scale) in scales {
                assert_eq!(rejoined[&key], scale, "{sizes:?}");
            }
        }
    }

    /// The parts' gradients, computed on two threads with a forked model and
    /// summed, equal the gradient of the whole batch's loss in one graph.
    #[test]
    fn parallel_gradients_equal_the_whole_batch_gradient() {
        let device = Device::default().autodiff();
        for (mode, sizes) in [(Mode::KnownLens, vec![5]), (Mode::KnownLens, vec![2, 3]), (Mode::Joint, vec![3])] {
            let model = AstroRim::new(mode, 3, &device, Some(7)).map(&mut Redraw).set_require_grad(true);
            let total: usize = sizes.iter().sum();
            let groups: Vec<(u32, Batch)> = sizes.iter().enumerate().map(|(k, &n)| (k as u32, batch(n, 16, &device))).collect();
            let whole = groups
                .iter()
                .map(|(_, b)| mean_loss(&model, b) * (b.scale.len() as f64 / total as f64))
                .reduce(|a, c| a + c)
                .expect("groups");
            let value = whole.clone().into_scalar::<f32>() as f64;
            let mut grads = whole.backward();
            let reference_rim = GradientsParams::from_module(&mut grads, &model.rim);
            let reference_forward = model.forward.as_ref().map(|f| GradientsParams::from_module(&mut grads, f));
            let parts = split(groups);
            assert_eq!(parts.len(), 2);
            let ours = gradients(&model, &device, &parts, &|m, part| {
                part.iter().map(|(_, b, w)| mean_loss(m, b) * *w).reduce(|a, c| a + c).expect("pieces")
            });
            assert!((ours.value - value).abs() < 1e-5 * value.abs(), "{} against {value}", ours.value);
            let mut pairs = vec![(collect(&model.rim, &ours.rim), collect(&model.rim, &reference_rim))];
            if let (Some(f), Some(g), Some(r)) = (&model.forward, &ours.forward, &reference_forward) {
                pairs.push((collect(f, g), collect(f, r)));
            }
            assert_eq!(pairs.len(), if mode == Mode::Joint { 2 } else { 1 });
            for (ours, reference) in pairs {
                assert_eq!(ours.len(), reference.len());
                let present: Vec<bool> = reference.iter().map(Option::is_some).collect();
                assert_eq!(ours.iter().map(Option::is_some).collect::<Vec<_>>(), present, "{mode:?}: gradients of other parameters");
                // All but the learned PSF's parameters, which this loss does not use.
                assert!(present.iter().filter(|&&p| p).count() * 5 > present.len() * 4, "{mode:?}: {present:?}");
                for (x, y) in ours.iter().flatten().zip(reference.iter().flatten()) {
                    let scale = y.iter().fold(0f32, |m, v| m.max(v.abs()));
                    assert!(scale > 0.0, "a parameter without gradient");
                    let diff = x.iter().zip(y).fold(0f32, |m, (p, q)| m.max((p - q).abs()));
                    assert!(diff <= 1e-4 * scale, "{mode:?} {sizes:?}: gradient differs by {diff} (scale {scale})");
                }
            }
        }
    }

    fn collect<M: Module>(module: &M, grads: &GradientsParams) -> Vec<Option<Vec<f32>>> {
        let mut c = Collect(grads, Vec::new());
        module.visit(&mut c);
        c.1
    }
}
