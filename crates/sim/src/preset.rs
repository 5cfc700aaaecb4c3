//! Simulator presets: every distribution of a variant, as data (TOML).
//!
//! The built-in presets `v1`…`v6` follow the AstroRIM paper §3.2 (and the
//! public simgen scripts summarized in REFERENCE.md §3); `mix` draws from all
//! six with configurable weights. A user writes a seventh by copying one of
//! `crates/sim/presets/*.toml`. Optional effects default to "off"; core
//! fields (image geometry, lens strength, source magnitudes) are required.
//! Unknown keys are errors, and every range is checked against physical
//! bounds, with errors naming the offending field.

use crate::dist::{CountDist, Dist};
use crate::SimError;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// One simulator variant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub image: ImageSpec,
    /// Instrument regimes (pixel scale and PSF width), drawn by weight.
    pub regimes: Vec<Regime>,
    #[serde(default)]
    pub cosmology: CosmologySpec,
    pub lens: LensSpec,
    pub source: SourceSpec,
    #[serde(default)]
    pub lens_light: LensLightSpec,
    #[serde(default)]
    pub psf: PsfSpec,
    pub detector: DetectorSpec,
    #[serde(default)]
    pub contaminants: ContaminantSpec,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// Image side in pixels.
    pub size: usize,
    /// Rays per pixel and axis.
    #[serde(default = "default_supersampling")]
    pub supersampling: usize,
    /// Source-plane grid side in pixels (the grid the RIM reconstructs).
    #[serde(default = "default_source_size")]
    pub source_size: usize,
    /// Source-grid field of view as a fraction of the image field of view.
    #[serde(default = "default_source_fov")]
    pub source_fov: f64,
    /// Side of the stored PSF kernel (pixels, odd).
    #[serde(default = "default_psf_size")]
    pub psf_size: usize,
    /// Probability of a random sub-pixel shift of the whole scene.
    #[serde(default)]
    pub subpixel_shift_prob: f64,
}

fn default_supersampling() -> usize {
    4
}
fn default_source_size() -> usize {
    96
}
fn default_source_fov() -> f64 {
    0.5
}
fn default_psf_size() -> usize {
    21
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regime {
    pub name: String,
    pub weight: f64,
    /// Arcsec per pixel.
    pub pixel_scale: f64,
    /// PSF FWHM in arcsec.
    pub psf_fwhm: Dist,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosmologySpec {
    #[serde(default = "default_h0")]
    pub h0: f64,
    #[serde(default = "default_omega_m")]
    pub omega_m: f64,
    #[serde(default = "default_z_lens")]
    pub z_lens: Dist,
    #[serde(default = "default_z_source")]
    pub z_source: Dist,
}

fn default_h0() -> f64 {
    70.0
}
fn default_omega_m() -> f64 {
    0.3
}
fn default_z_lens() -> Dist {
    Dist::Uniform([0.2, 0.7])
}
fn default_z_source() -> Dist {
    Dist::Uniform([1.0, 3.0])
}

impl Default for CosmologySpec {
    fn default() -> Self {
        CosmologySpec { h0: default_h0(), omega_m: default_omega_m(), z_lens: default_z_lens(), z_source: default_z_source() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LensSpec {
    /// Einstein radius (arcsec); exclusive with `sigma_v`.
    pub theta_e: Option<Dist>,
    /// SIS-equivalent velocity dispersion (km/s), converted through the cosmology.
    pub sigma_v: Option<Dist>,
    /// Probability of replacing θ_E by a draw from `theta_e_outlier` (v2's soft clipping).
    #[serde(default)]
    pub theta_e_outlier_prob: f64,
    #[serde(default = "default_outlier")]
    pub theta_e_outlier: Dist,
    /// Lens ellipticity e = 1 − q.
    pub ellipticity: Dist,
    /// Each coordinate of the lens centre (arcsec).
    #[serde(default = "default_center")]
    pub center: Dist,
    /// External shear magnitude γ (random angle).
    #[serde(default = "default_zero")]
    pub shear: Dist,
    #[serde(default)]
    pub nfw_prob: f64,
    /// NFW scale radius (arcsec) when drawn directly.
    #[serde(default = "default_nfw_rs")]
    pub nfw_rs: Dist,
    /// NFW deflection at Rs (arcsec) when drawn directly.
    #[serde(default = "default_nfw_alpha_rs")]
    pub nfw_alpha_rs: Dist,
    /// log10(M200/M☉): if given, Rs and alpha_Rs follow from M200, the concentration and the cosmology.
    pub nfw_log10_m200: Option<Dist>,
    #[serde(default = "default_concentration")]
    pub nfw_concentration: Dist,
    #[serde(default)]
    pub subhalo_prob: f64,
    #[serde(default = "default_subhalo_count")]
    pub subhalo_count: CountDist,
    /// Subhalo SIS Einstein radius (arcsec).
    #[serde(default = "default_subhalo_theta_e")]
    pub subhalo_theta_e: Dist,
    /// Subhalo distance from the lens centre in units of θ_E.
    #[serde(default = "default_subhalo_radius")]
    pub subhalo_radius: Dist,
    #[serde(default)]
    pub second_lens_prob: f64,
    /// Second SIE's θ_E as a fraction of the main one.
    #[serde(default = "default_second_ratio")]
    pub second_lens_ratio: Dist,
    /// Second SIE's distance from the main lens (arcsec).
    #[serde(default = "default_second_offset")]
    pub second_lens_offset: Dist,
    /// Redraw lens and source (up to `max_attempts`) while the source is multiply imaged.
    #[serde(default)]
    pub reject_multiple_images: bool,
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
}

fn default_outlier() -> Dist {
    Dist::Uniform([0.5, 2.5])
}
fn default_center() -> Dist {
    Dist::Normal([0.0, 0.03])
}
fn default_zero() -> Dist {
    Dist::Fixed(0.0)
}
fn default_nfw_rs() -> Dist {
    Dist::Uniform([10.0, 30.0])
}
fn default_nfw_alpha_rs() -> Dist {
    Dist::Uniform([0.3, 1.5])
}
fn default_concentration() -> Dist {
    Dist::Uniform([4.0, 8.0])
}
fn default_subhalo_count() -> CountDist {
    CountDist::Poisson(1.0)
}
fn default_subhalo_theta_e() -> Dist {
    Dist::Uniform([0.003, 0.02])
}
fn default_subhalo_radius() -> Dist {
    Dist::Uniform([0.5, 1.5])
}
fn default_second_ratio() -> Dist {
    Dist::Uniform([0.2, 0.6])
}
fn default_second_offset() -> Dist {
    Dist::Uniform([1.0, 2.5])
}
fn default_attempts() -> u32 {
    10
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Total AB magnitude of the source.
    pub magnitude: Dist,
    /// Probability that the source is placed near the caustics (strong arcs).
    #[serde(default = "default_one")]
    pub near_caustic_prob: f64,
    /// Source-centre distance from the lens centre, in θ_E, when near the caustics.
    #[serde(default = "default_near_radius")]
    pub near_caustic_radius: Dist,
    /// The same when placed broadly.
    #[serde(default = "default_broad_radius")]
    pub broad_radius: Dist,
    /// Bulge effective radius (arcsec), Sérsic index and bulge flux fraction.
    pub bulge_re: Dist,
    pub bulge_n: Dist,
    pub bulge_fraction: Dist,
    /// Disk R_e as a multiple of the bulge R_e (n = 1).
    pub disk_re_ratio: Dist,
    /// Ellipticity e = 1 − q of bulge and disk.
    pub ellipticity: Dist,
    /// Bulge–disk position-angle difference (radians).
    #[serde(default = "default_misalignment")]
    pub misalignment: Dist,
    /// Faint companion Sérsics: count, flux fraction each, R_e (arcsec), offset (arcsec).
    #[serde(default = "default_zero_count")]
    pub companions: CountDist,
    #[serde(default = "default_companion_flux")]
    pub companion_flux: Dist,
    #[serde(default = "default_companion_re")]
    pub companion_re: Dist,
    #[serde(default = "default_companion_offset")]
    pub companion_offset: Dist,
    /// Gaussian star-forming clumps: probability, count, peak relative to the
    /// source peak, σ in source-grid pixels.
    #[serde(default)]
    pub clump_prob: f64,
    #[serde(default = "default_clump_count")]
    pub clump_count: CountDist,
    #[serde(default = "default_clump_amplitude")]
    pub clump_amplitude: Dist,
    #[serde(default = "default_clump_sigma")]
    pub clump_sigma: Dist,
    /// Spiral modulation 1 + A sin(3θ + 5r/r_max + φ0).
    #[serde(default)]
    pub spiral_prob: f64,
    #[serde(default = "default_spiral_amplitude")]
    pub spiral_amplitude: Dist,
    /// Morphology classes (v6); each overrides bulge and structure draws.
    #[serde(default)]
    pub morphologies: Vec<Morphology>,
}

fn default_one() -> f64 {
    1.0
}
fn default_near_radius() -> Dist {
    Dist::Uniform([0.0, 0.3])
}
fn default_broad_radius() -> Dist {
    Dist::Uniform([0.0, 1.2])
}
fn default_misalignment() -> Dist {
    Dist::Normal([0.0, 0.15])
}
fn default_zero_count() -> CountDist {
    CountDist::Fixed(0)
}
fn default_companion_flux() -> Dist {
    Dist::Uniform([0.03, 0.15])
}
fn default_companion_re() -> Dist {
    Dist::Uniform([0.02, 0.08])
}
fn default_companion_offset() -> Dist {
    Dist::Uniform([0.1, 0.4])
}
fn default_clump_count() -> CountDist {
    CountDist::IntUniform([1, 6])
}
fn default_clump_amplitude() -> Dist {
    Dist::Uniform([0.02, 0.8])
}
fn default_clump_sigma() -> Dist {
    Dist::Uniform([0.4, 4.0])
}
fn default_spiral_amplitude() -> Dist {
    Dist::Fixed(0.06)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Morphology {
    pub name: String,
    pub weight: f64,
    pub bulge_n: Dist,
    pub bulge_fraction: Dist,
    pub spiral_prob: f64,
    pub clump_prob: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LensLightSpec {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Lens magnitude minus source magnitude.
    #[serde(default = "default_lens_offset")]
    pub magnitude_offset: Dist,
    /// Lens-light R_e in units of θ_E.
    #[serde(default = "default_lens_re")]
    pub re_ratio: Dist,
    #[serde(default = "default_lens_n")]
    pub n: Dist,
}

fn default_true() -> bool {
    true
}
fn default_lens_offset() -> Dist {
    Dist::Uniform([-0.2, 1.5])
}
fn default_lens_re() -> Dist {
    Dist::Uniform([0.5, 1.5])
}
fn default_lens_n() -> Dist {
    Dist::Uniform([3.0, 5.0])
}

impl Default for LensLightSpec {
    fn default() -> Self {
        LensLightSpec { enabled: true, magnitude_offset: default_lens_offset(), re_ratio: default_lens_re(), n: default_lens_n() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PsfSpec {
    /// Relative weights of the PSF families.
    #[serde(default = "default_one")]
    pub gaussian: f64,
    #[serde(default)]
    pub moffat: f64,
    #[serde(default)]
    pub airy: f64,
    #[serde(default = "default_beta")]
    pub moffat_beta: Dist,
    /// PSF ellipticity |e| (random angle).
    #[serde(default = "default_zero")]
    pub ellipticity: Dist,
    /// Coma-like asymmetry: probability, and the flux fraction in a displaced, broadened lobe.
    #[serde(default)]
    pub coma_prob: f64,
    #[serde(default = "default_coma")]
    pub coma_strength: Dist,
    /// Probability that the stored (measured) PSF differs from the true one,
    /// and the ratio of their FWHMs.
    #[serde(default)]
    pub mismatch_prob: f64,
    #[serde(default = "default_mismatch")]
    pub mismatch_fwhm_ratio: Dist,
}

fn default_beta() -> Dist {
    Dist::Uniform([2.5, 4.5])
}
fn default_coma() -> Dist {
    Dist::Uniform([0.05, 0.25])
}
fn default_mismatch() -> Dist {
    Dist::Uniform([0.9, 1.1])
}

impl Default for PsfSpec {
    fn default() -> Self {
        PsfSpec {
            gaussian: 1.0,
            moffat: 0.0,
            airy: 0.0,
            moffat_beta: default_beta(),
            ellipticity: default_zero(),
            coma_prob: 0.0,
            coma_strength: default_coma(),
            mismatch_prob: 0.0,
            mismatch_fwhm_ratio: default_mismatch(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorSpec {
    /// AB zero point: 1 e⁻/s at this magnitude (25.94 for HST/ACS F814W).
    #[serde(default = "default_zero_point")]
    pub zero_point: f64,
    /// Exposure time, s.
    pub exposure: Dist,
    /// Gain, e⁻/ADU.
    #[serde(default = "default_gain")]
    pub gain: Dist,
    /// Sky level, ADU per pixel per second.
    pub sky: Dist,
    /// Read noise, e⁻.
    pub read_noise: Dist,
    /// Photo-response non-uniformity (1σ fractional flat-field error).
    #[serde(default)]
    pub prnu: f64,
    /// Maximum fractional sky gradient across the image, and whether it is 2-D.
    #[serde(default = "default_zero")]
    pub sky_gradient: Dist,
    #[serde(default)]
    pub sky_gradient_2d: bool,
    /// Sky-subtraction residual: probability, and the offset in units of the sky noise.
    #[serde(default)]
    pub sky_residual_prob: f64,
    #[serde(default = "default_sky_residual")]
    pub sky_residual: Dist,
    /// Cosmic rays: probability, hits, amplitude (ADU), and whether hits are multi-pixel tracks.
    #[serde(default)]
    pub cosmic_prob: f64,
    #[serde(default = "default_cosmic_count")]
    pub cosmic_count: CountDist,
    #[serde(default = "default_cosmic_amplitude")]
    pub cosmic_amplitude: Dist,
    #[serde(default)]
    pub cosmic_tracks: bool,
    /// Correlated noise: probability and Gaussian correlation length (pixels).
    #[serde(default)]
    pub correlated_prob: f64,
    #[serde(default = "default_correlated_sigma")]
    pub correlated_sigma: Dist,
    /// Charge-transfer inefficiency: probability, fraction of charge trailed, trail length (pixels).
    #[serde(default)]
    pub cti_prob: f64,
    #[serde(default = "default_cti_fraction")]
    pub cti_fraction: Dist,
    #[serde(default = "default_cti_length")]
    pub cti_length: Dist,
    /// Vignetting: probability and the fractional loss at the corners.
    #[serde(default)]
    pub vignetting_prob: f64,
    #[serde(default = "default_vignetting")]
    pub vignetting: Dist,
}

fn default_zero_point() -> f64 {
    25.94
}
fn default_gain() -> Dist {
    Dist::Uniform([1.5, 2.5])
}
fn default_sky_residual() -> Dist {
    Dist::Uniform([-0.5, 0.5])
}
fn default_cosmic_count() -> CountDist {
    CountDist::IntUniform([1, 5])
}
fn default_cosmic_amplitude() -> Dist {
    Dist::Uniform([40.0, 350.0])
}
fn default_correlated_sigma() -> Dist {
    Dist::Uniform([0.8, 4.0])
}
fn default_cti_fraction() -> Dist {
    Dist::Uniform([0.005, 0.03])
}
fn default_cti_length() -> Dist {
    Dist::Uniform([1.0, 4.0])
}
fn default_vignetting() -> Dist {
    Dist::Uniform([0.0, 0.08])
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContaminantSpec {
    /// Unlensed field galaxies: probability, count, magnitude.
    #[serde(default)]
    pub field_galaxy_prob: f64,
    #[serde(default = "default_field_count")]
    pub field_galaxy_count: CountDist,
    #[serde(default = "default_field_mag")]
    pub field_galaxy_magnitude: Dist,
    /// Stars (PSF-shaped point sources): probability, count, magnitude.
    #[serde(default)]
    pub star_prob: f64,
    #[serde(default = "default_star_count")]
    pub star_count: CountDist,
    #[serde(default = "default_star_mag")]
    pub star_magnitude: Dist,
}

impl Default for ContaminantSpec {
    fn default() -> Self {
        ContaminantSpec {
            field_galaxy_prob: 0.0,
            field_galaxy_count: default_field_count(),
            field_galaxy_magnitude: default_field_mag(),
            star_prob: 0.0,
            star_count: default_star_count(),
            star_magnitude: default_star_mag(),
        }
    }
}

fn default_field_count() -> CountDist {
    CountDist::IntUniform([3, 9])
}
fn default_field_mag() -> Dist {
    Dist::Uniform([22.0, 26.0])
}
fn default_star_count() -> CountDist {
    CountDist::IntUniform([1, 2])
}
fn default_star_mag() -> Dist {
    Dist::Uniform([18.0, 23.0])
}

fn check_prob(p: f64, field: &str) -> Result<(), SimError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(SimError::preset(field, format!("probability {p} is outside [0, 1]")))
    }
}

impl Preset {
    /// Parses and validates a preset; errors name `source` and the field.
    pub fn from_toml(text: &str) -> Result<Self, SimError> {
        let preset: Preset =
            toml::from_str(text).map_err(|e| SimError::preset("toml", e.message().to_string() + &span_note(text, e.span())))?;
        preset.validate()?;
        Ok(preset)
    }

    /// Checks every range against physical bounds.
    pub fn validate(&self) -> Result<(), SimError> {
        let inf = f64::INFINITY;
        let im = &self.image;
        if !(8..=1024).contains(&im.size) {
            return Err(SimError::preset("image.size", format!("{} must be in 8..=1024", im.size)));
        }
        if !(1..=8).contains(&im.supersampling) {
            return Err(SimError::preset("image.supersampling", format!("{} must be in 1..=8", im.supersampling)));
        }
        if !(8..=1024).contains(&im.source_size) {
            return Err(SimError::preset("image.source_size", format!("{} must be in 8..=1024", im.source_size)));
        }
        if !(im.source_fov > 0.0 && im.source_fov <= 2.0) {
            return Err(SimError::preset("image.source_fov", format!("{} must be in (0, 2]", im.source_fov)));
        }
        if im.psf_size.is_multiple_of(2) || !(3..=101).contains(&im.psf_size) {
            return Err(SimError::preset("image.psf_size", format!("{} must be odd and in 3..=101", im.psf_size)));
        }
        check_prob(im.subpixel_shift_prob, "image.subpixel_shift_prob")?;
        if self.regimes.is_empty() {
            return Err(SimError::preset("regimes", "at least one instrument regime is required"));
        }
        for (i, r) in self.regimes.iter().enumerate() {
            let f = |n: &str| format!("regimes[{i}].{n}");
            if !(r.weight >= 0.0 && r.weight.is_finite()) {
                return Err(SimError::preset(f("weight"), "must be a non-negative number"));
            }
            if !(r.pixel_scale > 0.0 && r.pixel_scale < 10.0) {
                return Err(SimError::preset(f("pixel_scale"), format!("{} must be in (0, 10) arcsec", r.pixel_scale)));
            }
            r.psf_fwhm.validate(&f("psf_fwhm"), 1e-4, 10.0)?;
        }
        if self.regimes.iter().all(|r| r.weight == 0.0) {
            return Err(SimError::preset("regimes", "weights must not all be zero"));
        }
        let c = &self.cosmology;
        if !(c.h0 > 0.0 && c.h0 < 200.0) {
            return Err(SimError::preset("cosmology.h0", format!("{} must be in (0, 200)", c.h0)));
        }
        if !(0.0..=1.0).contains(&c.omega_m) {
            return Err(SimError::preset("cosmology.omega_m", format!("{} must be in [0, 1]", c.omega_m)));
        }
        c.z_lens.validate("cosmology.z_lens", 0.01, 10.0)?;
        c.z_source.validate("cosmology.z_source", 0.02, 15.0)?;
        if c.z_source.support().0 <= c.z_lens.support().1 {
            return Err(SimError::preset("cosmology.z_source", "every source redshift must exceed every lens redshift"));
        }
        let l = &self.lens;
        match (&l.theta_e, &l.sigma_v) {
            (Some(t), None) => t.validate("lens.theta_e", 0.01, 20.0)?,
            (None, Some(s)) => s.validate("lens.sigma_v", 10.0, 2000.0)?,
            _ => return Err(SimError::preset("lens.theta_e", "give exactly one of lens.theta_e and lens.sigma_v")),
        }
        check_prob(l.theta_e_outlier_prob, "lens.theta_e_outlier_prob")?;
        l.theta_e_outlier.validate("lens.theta_e_outlier", 0.01, 20.0)?;
        l.ellipticity.validate("lens.ellipticity", 0.0, 0.95)?;
        l.center.validate("lens.center", -inf, inf)?;
        l.shear.validate("lens.shear", 0.0, 0.5)?;
        check_prob(l.nfw_prob, "lens.nfw_prob")?;
        l.nfw_rs.validate("lens.nfw_rs", 1e-3, 1e3)?;
        l.nfw_alpha_rs.validate("lens.nfw_alpha_rs", 0.0, 20.0)?;
        if let Some(m) = &l.nfw_log10_m200 {
            m.validate("lens.nfw_log10_m200", 8.0, 16.0)?;
        }
        l.nfw_concentration.validate("lens.nfw_concentration", 0.5, 50.0)?;
        check_prob(l.subhalo_prob, "lens.subhalo_prob")?;
        l.subhalo_count.validate("lens.subhalo_count", 100)?;
        l.subhalo_theta_e.validate("lens.subhalo_theta_e", 0.0, 1.0)?;
        l.subhalo_radius.validate("lens.subhalo_radius", 0.0, 10.0)?;
        check_prob(l.second_lens_prob, "lens.second_lens_prob")?;
        l.second_lens_ratio.validate("lens.second_lens_ratio", 0.0, 2.0)?;
        l.second_lens_offset.validate("lens.second_lens_offset", 0.0, 20.0)?;
        if l.max_attempts == 0 || l.max_attempts > 1000 {
            return Err(SimError::preset("lens.max_attempts", "must be in 1..=1000"));
        }
        let s = &self.source;
        s.magnitude.validate("source.magnitude", 10.0, 35.0)?;
        check_prob(s.near_caustic_prob, "source.near_caustic_prob")?;
        s.near_caustic_radius.validate("source.near_caustic_radius", 0.0, 10.0)?;
        s.broad_radius.validate("source.broad_radius", 0.0, 10.0)?;
        s.bulge_re.validate("source.bulge_re", 1e-3, 10.0)?;
        s.bulge_n.validate("source.bulge_n", 0.3, 8.0)?;
        s.bulge_fraction.validate("source.bulge_fraction", 0.0, 1.0)?;
        s.disk_re_ratio.validate("source.disk_re_ratio", 0.1, 20.0)?;
        s.ellipticity.validate("source.ellipticity", 0.0, 0.95)?;
        s.misalignment.validate("source.misalignment", -inf, inf)?;
        s.companions.validate("source.companions", 20)?;
        s.companion_flux.validate("source.companion_flux", 0.0, 1.0)?;
        s.companion_re.validate("source.companion_re", 1e-3, 10.0)?;
        s.companion_offset.validate("source.companion_offset", 0.0, 10.0)?;
        check_prob(s.clump_prob, "source.clump_prob")?;
        s.clump_count.validate("source.clump_count", 50)?;
        s.clump_amplitude.validate("source.clump_amplitude", 0.0, 10.0)?;
        s.clump_sigma.validate("source.clump_sigma", 0.05, 50.0)?;
        check_prob(s.spiral_prob, "source.spiral_prob")?;
        s.spiral_amplitude.validate("source.spiral_amplitude", 0.0, 1.0)?;
        for (i, m) in s.morphologies.iter().enumerate() {
            let f = |n: &str| format!("source.morphologies[{i}].{n}");
            if !(m.weight >= 0.0 && m.weight.is_finite()) {
                return Err(SimError::preset(f("weight"), "must be a non-negative number"));
            }
            m.bulge_n.validate(&f("bulge_n"), 0.3, 8.0)?;
            m.bulge_fraction.validate(&f("bulge_fraction"), 0.0, 1.0)?;
            check_prob(m.spiral_prob, &f("spiral_prob"))?;
            check_prob(m.clump_prob, &f("clump_prob"))?;
        }
        let ll = &self.lens_light;
        ll.magnitude_offset.validate("lens_light.magnitude_offset", -10.0, 10.0)?;
        ll.re_ratio.validate("lens_light.re_ratio", 0.01, 20.0)?;
        ll.n.validate("lens_light.n", 0.3, 8.0)?;
        let p = &self.psf;
        for (w, name) in [(p.gaussian, "psf.gaussian"), (p.moffat, "psf.moffat"), (p.airy, "psf.airy")] {
            if !(w >= 0.0 && w.is_finite()) {
                return Err(SimError::preset(name, "weight must be a non-negative number"));
            }
        }
        if p.gaussian + p.moffat + p.airy == 0.0 {
            return Err(SimError::preset("psf.gaussian", "PSF family weights must not all be zero"));
        }
        p.moffat_beta.validate("psf.moffat_beta", 1.1, 20.0)?;
        p.ellipticity.validate("psf.ellipticity", 0.0, 0.5)?;
        check_prob(p.coma_prob, "psf.coma_prob")?;
        p.coma_strength.validate("psf.coma_strength", 0.0, 0.9)?;
        check_prob(p.mismatch_prob, "psf.mismatch_prob")?;
        p.mismatch_fwhm_ratio.validate("psf.mismatch_fwhm_ratio", 0.2, 5.0)?;
        let d = &self.detector;
        if !(d.zero_point.is_finite() && (10.0..=40.0).contains(&d.zero_point)) {
            return Err(SimError::preset("detector.zero_point", format!("{} must be in [10, 40]", d.zero_point)));
        }
        d.exposure.validate("detector.exposure", 1e-3, 1e6)?;
        d.gain.validate("detector.gain", 0.01, 100.0)?;
        d.sky.validate("detector.sky", 0.0, 1e6)?;
        d.read_noise.validate("detector.read_noise", 0.0, 1e4)?;
        if !(0.0..=0.5).contains(&d.prnu) {
            return Err(SimError::preset("detector.prnu", format!("{} must be in [0, 0.5]", d.prnu)));
        }
        d.sky_gradient.validate("detector.sky_gradient", 0.0, 1.0)?;
        check_prob(d.sky_residual_prob, "detector.sky_residual_prob")?;
        d.sky_residual.validate("detector.sky_residual", -100.0, 100.0)?;
        check_prob(d.cosmic_prob, "detector.cosmic_prob")?;
        d.cosmic_count.validate("detector.cosmic_count", 1000)?;
        d.cosmic_amplitude.validate("detector.cosmic_amplitude", 0.0, 1e7)?;
        check_prob(d.correlated_prob, "detector.correlated_prob")?;
        d.correlated_sigma.validate("detector.correlated_sigma", 0.1, 20.0)?;
        check_prob(d.cti_prob, "detector.cti_prob")?;
        d.cti_fraction.validate("detector.cti_fraction", 0.0, 0.5)?;
        d.cti_length.validate("detector.cti_length", 0.1, 50.0)?;
        check_prob(d.vignetting_prob, "detector.vignetting_prob")?;
        d.vignetting.validate("detector.vignetting", 0.0, 0.9)?;
        let k = &self.contaminants;
        check_prob(k.field_galaxy_prob, "contaminants.field_galaxy_prob")?;
        k.field_galaxy_count.validate("contaminants.field_galaxy_count", 100)?;
        k.field_galaxy_magnitude.validate("contaminants.field_galaxy_magnitude", 10.0, 35.0)?;
        check_prob(k.star_prob, "contaminants.star_prob")?;
        k.star_count.validate("contaminants.star_count", 100)?;
        k.star_magnitude.validate("contaminants.star_magnitude", 5.0, 35.0)?;
        Ok(())
    }
}

/// " (line L)" for a TOML error span, when there is one.
fn span_note(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map(|s| format!(" (line {})", text[..s.start.min(text.len())].lines().count().max(1))).unwrap_or_default()
}

/// The built-in variants, by name.
pub const BUILTIN: [(&str, &str); 6] = [
    ("v1", include_str!("../presets/v1.toml")),
    ("v2", include_str!("../presets/v2.toml")),
    ("v3", include_str!("../presets/v3.toml")),
    ("v4", include_str!("../presets/v4.toml")),
    ("v5", include_str!("../presets/v5.toml")),
    ("v6", include_str!("../presets/v6.toml")),
];

/// A built-in preset by name.
pub fn builtin(name: &str) -> Result<Preset, SimError> {
    let (_, text) = BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| SimError::preset("variant", format!("unknown variant '{name}' (known: v1, v2, v3, v4, v5, v6, mix)")))?;
    Preset::from_toml(text)
}

/// Angle range used for position angles: [0, π).
pub const ANGLE: Dist = Dist::Uniform([0.0, PI]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_validate() {
        for (name, _) in BUILTIN {
            let p = builtin(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(p.name, name);
        }
        assert!(builtin("v7").is_err());
    }

    #[test]
    fn bad_presets_name_the_field() {
        let v1 = BUILTIN[0].1;
        let e = Preset::from_toml(&v1.replace("exposure = { uniform = [900.0, 1800.0] }", "")).unwrap_err().to_string();
        assert!(e.contains("exposure"), "{e}");
        let e = Preset::from_toml(&v1.replace("psf_fwhm = { uniform = [0.06, 0.10] }", "psf_fwhm = { uniform = [-0.06, 0.10] }"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("regimes[0].psf_fwhm"), "{e}");
        let e = Preset::from_toml(&v1.replace("ellipticity = { uniform = [0.0, 0.3] }", "ellipticity = { uniform = [0.0, 1.3] }"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("lens.ellipticity"), "{e}");
        let e = Preset::from_toml(&format!("{v1}\nbogus = 1\n")).unwrap_err().to_string();
        assert!(e.contains("bogus"), "{e}");
    }
}
