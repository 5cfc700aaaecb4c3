//! The trainable model: the RIM, plus in joint mode the forward model
//! (encoder and learned PSF); and how a batch becomes the operator the RIM
//! iterates against in each mode.

use crate::data::Batch;
use crate::evidence_refine::refine_by_evidence;
use crate::forward::{ForwardOperator, LinearOperator};
use crate::joint::{ForwardModel, Prediction, PsfSource};
use crate::known_lens::{project_source, run_rim, Iterate};
use crate::parametric::{choose, fit_parametric_source};
use crate::refine::{refine_lens, rim_source, RefineSettings};
use crate::rim::Rim;
use crate::views::EncoderViews;
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Training and inference mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Morningstar et al. 2019: Θ, PSF, noise and lens light given; RIM only.
    KnownLens,
    /// AstroRIM: Θ and lens light predicted by the encoder.
    Joint,
    /// The encoder alone (a training stage before the joint one): trained on
    /// the simulator's truth Θ and forward fidelity, the RIM not run. At
    /// inference it behaves as the joint mode.
    Encoder,
}

/// RIM + (joint and encoder modes) forward model.
#[derive(Module, Debug)]
pub struct AstroRim {
    pub rim: Rim,
    pub forward: Option<ForwardModel>,
}

/// What one reconstruction produced.
#[derive(Debug, Clone)]
pub struct Reconstruction<'a> {
    /// The operator the RIM iterated against.
    pub operator: LinearOperator<'a>,
    /// The back-projection the RIM started from, [B, 1, M, M].
    pub start: Tensor<4>,
    /// Every RIM estimate, [B, 1, M, M] each.
    pub estimates: Vec<Tensor<4>>,
    /// Encoder predictions and the PSF used (joint mode).
    pub prediction: Option<(Prediction, Tensor<4>)>,
}

impl Reconstruction<'_> {
    /// The source estimate: the last iterate, projected
    /// ([`crate::known_lens::project_source`]), [B, 1, M, M].
    pub fn source(&self) -> Tensor<4> {
        project_source(self.estimates.last().expect("the RIM runs at least one iteration").clone())
    }
}

/// Touches every parameter so that its lazy initializer runs.
struct Materialize;

impl ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// Serializes model construction: burn's generator is global to the
/// backend, so a seeded initialization is reproducible only if no other
/// thread draws from it between the seed and the last weight.
static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl AstroRim {
    /// A freshly initialized model; with `seed`, the initialization is reproducible.
    pub fn new(mode: Mode, psf_size: usize, device: &Device, seed: Option<u64>) -> Self {
        let _guard = INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(seed) = seed {
            device.seed(seed);
        }
        let model = AstroRim { rim: Rim::new(device), forward: (mode != Mode::KnownLens).then(|| ForwardModel::new(psf_size, device)) };
        // burn initializes parameters lazily, at first use: force it here,
        // while the lock is held.
        model.visit(&mut Materialize);
        model
    }

    /// Runs the model on a batch: binds the operator (true Θ and background
    /// in known-lens mode; the encoder's Θ, lens light and PSF in joint mode,
    /// differentiably in Θ when `how.lens_gradient`),
    /// back-projects, then iterates the RIM.
    pub fn reconstruct<'a>(&self, op: &'a ForwardOperator, batch: &Batch, psf: PsfSource, how: Iterate) -> Reconstruction<'a> {
        self.reconstruct_refined(op, batch, psf, how, EncoderViews::Single, None)
    }

    /// [`Self::reconstruct`], in joint mode with the encoder reading `views`
    /// of each observation ([`crate::views`]) and its lens first
    /// refined against the data when `refine` is given: with
    /// `parametric_steps`, fitted with a parametric source
    /// ([`crate::parametric::fit_parametric_source`]) and that lens kept
    /// where the RIM's χ² under it is the lower; with `evidence`, then refined
    /// by the evidence of the regularized inversion
    /// ([`crate::evidence_refine`]); then, with `steps`, refined
    /// with the RIM as source solver ([`crate::refine::refine_lens`]). The
    /// reconstruction's prediction is then the refined lens.
    pub fn reconstruct_refined<'a>(
        &self,
        op: &'a ForwardOperator,
        batch: &Batch,
        psf: PsfSource,
        how: Iterate,
        views: EncoderViews,
        refine: Option<RefineSettings>,
    ) -> Reconstruction<'a> {
        let (f, prediction): (LinearOperator, _) = match &self.forward {
            None => (batch.operator(op), None),
            Some(model) => {
                let mut p = views.predict(model, batch.observed.clone());
                let kernel = model.psf(batch, psf);
                if let Some(settings) = refine {
                    let solve = |f: &LinearOperator, b: &Batch| rim_source(&self.rim, f, b, how);
                    if settings.parametric_steps > 0 {
                        // The parametric stage's lens replaces the encoder's
                        // where the RIM fits the data better under it.
                        let fitted =
                            fit_parametric_source(op, batch, &p, &kernel, settings.parametric_steps, settings.parametric_components)
                                .prediction;
                        let at_start = RefineSettings { steps: 0, ..settings };
                        let before = refine_lens(op, batch, &p, &kernel, at_start, solve).chi2_best;
                        let after = refine_lens(op, batch, &fitted, &kernel, at_start, solve).chi2_best;
                        let better: Vec<bool> = before.iter().zip(&after).map(|(b, a)| a < b).collect();
                        p = choose(&p, &fitted, &better);
                    }
                    if settings.evidence {
                        p = refine_by_evidence(op, batch, &p, &kernel);
                    }
                    if settings.steps > 0 {
                        p = refine_lens(op, batch, &p, &kernel, settings, solve).prediction;
                    }
                }
                let light = op.sersic_light(&p.theta, &p.light);
                let f = if how.lens_gradient {
                    // The reconstruction loss reaches Θ, not the lens light:
                    // through the light, stage 3 of the recipe learned to
                    // brighten it until the RIM's source vanished on hard
                    // samples (a zero source costs less than a wrong one;
                    // measured in docs/training.md). The light keeps its own
                    // terms (forward fidelity).
                    op.bind_differentiable(&p.theta, &kernel, Some(&light.clone().detach()))
                } else {
                    op.bind(&p.theta, &kernel, Some(&light))
                };
                (f, Some((p, kernel)))
            }
        };
        let (start, estimates) = run_rim(&self.rim, &f, batch, how);
        Reconstruction { operator: f, start, estimates, prediction }
    }
}
