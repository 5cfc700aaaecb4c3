//! Lens modelling on data: observations loaded and checked
//! ([`observation`]), their sky and a noise map when none is given
//! ([`background`]), and the semilinear inversion of a pixelated source for
//! a given lens with its regularization set by the Bayesian evidence
//! ([`operator`]: the lensing operator as a sparse matrix; [`inversion`]:
//! the regularized solve and the evidence). f64 throughout, no deep-learning
//! dependency.

pub mod background;
pub mod baseline;
pub mod binning;
pub mod coolest;
pub mod inversion;
pub mod laplace;
pub mod lens_light;
pub mod minimize;
pub mod nnls;
pub mod observation;
pub mod operator;
pub mod parametric;
pub mod pipeline;
pub mod positions;
pub mod posterior;
pub mod prep;
pub mod profiles;
pub mod refine;
pub mod report;
pub mod sampled_light;
