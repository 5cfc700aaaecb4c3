//! Lensing physics for astrorim, in lenstronomy's conventions.
//!
//! Units: angles in arcsec, distances in Mpc, masses in M☉. The image-plane
//! coordinate x runs along image columns (FITS NAXIS1), y along rows; pixel
//! (column j, row i) of an `nx × ny` grid with pixel scale `s` has its centre at
//! `x = (j − (nx−1)/2)·s`, `y = (i − (ny−1)/2)·s` (see [`grid::PixelGrid`]).
//!
//! Modules follow lenstronomy's split: [`mass`] (LensModel), [`light`]
//! (LightModel), [`psf`] and [`convolve`] (PSF), [`render`] (ImSim),
//! [`cosmology`] (Cosmo), [`scene`] (the JSON description of a scene).
//!
//! # Adding a profile
//! 1. Write one module under `mass/` (or `light/`) with a struct holding the
//!    lenstronomy parameters, implementing [`mass::MassProfile`] (deflection,
//!    convergence, potential) or [`light::LightProfile`].
//! 2. Give it a `PARAMS: &[ParamSpec]` table (lenstronomy keyword names,
//!    units, bounds) and a constructor from the values in that order.
//! 3. Register its lenstronomy type name in `mass::registry` / `light::registry`.
//! 4. Add it to the shared identity test in `mass::tests` (α = ∇ψ, κ = ½∇·α at
//!    random points) and, if lenstronomy has it, to the oracle scenes in
//!    `crates/cli/tests/lenstronomy_oracle.rs`.

pub mod convolve;
pub mod cosmology;
pub mod ellipticity;
pub mod error;
pub mod grid;
pub mod lens_equation;
pub mod lenstronomy_form;
pub mod light;
pub mod mass;
pub mod param_map;
pub mod params;
pub mod psf;
pub mod render;
pub mod scene;

pub use error::PhysicsError;
pub use grid::{Image, PixelGrid};
