//! `reconstruct` (with the posterior on request) and `invert` on arrays: the
//! pipeline of `astrorim reconstruct` / `astrorim invert` without the FITS
//! files, its products optionally written into a directory as the CLI does.

use crate::arrays::{image_from, to_numpy};
use crate::value_error;
use astrorim_infer::baseline::{invert_observation, InvertOptions};
use astrorim_infer::inversion::Regularization;
use astrorim_infer::observation::{NoiseInput, Observation, ObservationInput};
use astrorim_infer::pipeline::{reconstruct_lens, PipelineOptions};
use astrorim_infer::posterior::{
    check_sampled_family, map_position, read_chain, sample_lens, summarize, write_chain, Chain, PosteriorOptions, DEFAULT_TEMPERATURE,
};
use astrorim_infer::prep::PrepOptions;
use astrorim_infer::refine::{LensFamily, RefineOptions};
use astrorim_infer::report::{result_document, write_posterior, write_products, Maps, ReportOptions};
use astrorim_infer::sampled_light::LightSampling;
use astrorim_physics::cosmology::FlatLcdm;
use astrorim_physics::scene::parse_lens_list;
use numpy::ndarray::{Array2, Array3};
use numpy::{IntoPyArray, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::{Path, PathBuf};
use std::time::Instant;

type Array<'py> = PyReadonlyArray2<'py, f64>;

/// The checked observation; `estimate` allows σ from the image when neither
/// a noise map nor an RMS is given.
#[allow(clippy::too_many_arguments)]
fn observation(
    image: &Array,
    noise: Option<&Array>,
    noise_rms: Option<f64>,
    psf: Option<&Array>,
    mask: Option<&Array>,
    pixel_scale: Option<f64>,
    estimate: Option<(Option<f64>, Option<f64>)>,
) -> PyResult<Observation> {
    let noise = match (noise, noise_rms, estimate) {
        (Some(_), Some(_), _) => return Err(value_error("noise: give noise or noise_rms, not both")),
        (Some(map), None, _) => NoiseInput::Map { name: "noise".into(), map: image_from(map) },
        (None, Some(rms), _) => NoiseInput::Rms(rms),
        (None, None, Some((exposure_s, gain))) => NoiseInput::Estimate { exposure_s, gain },
        (None, None, None) => NoiseInput::Missing,
    };
    if pixel_scale.is_none() {
        return Err(value_error("pixel_scale: give the pixel scale in arcsec (arrays carry no header)"));
    }
    Observation::new(ObservationInput {
        name: "image".into(),
        image: image_from(image),
        noise,
        psf: psf.map(|p| ("psf".to_string(), image_from(p))),
        mask: mask.map(|m| ("mask".to_string(), image_from(m))),
        pixel_scale,
        header_pixel_scale: None,
    })
    .map_err(value_error)
}

fn regularization(name: &str) -> PyResult<Regularization> {
    name.parse::<Regularization>().map_err(|e| value_error(format!("regularization: {e}")))
}

/// Reconstructs one observed lens (see `astrorim.reconstruct`): a dict with
/// `result_json` (the content of `result.json`) and the maps on the fitted
/// cutout, and with `uncertainty` the posterior's `chain` (steps × walkers ×
/// parameters: θ_E, e1, e2, centre x, centre y, γ1, γ2, then unless
/// `fix_light` the lens light's, named in `parameter_names`) and `log_prob`.
#[pyfunction]
#[pyo3(signature = (
    image, *, noise = None, noise_rms = None, psf = None, mask = None, pixel_scale = None,
    z_lens = None, z_source = None, h0 = 70.0, omega_m = 0.3, center = None,
    cutout = None, auto_mask = true, regularization = "gradient",
    search_source_grid = 28, source_grid = 48, max_evaluations = 600, search_binning = 2,
    simplex_tolerance = 1e-3, lens_model = "sie+shear", exposure_time = None, gain = None, out = None, name = None,
    uncertainty = false, walkers = None, steps = 2000, sampler_seed = 1, fix_light = false,
    temperature = DEFAULT_TEMPERATURE
))]
#[allow(clippy::too_many_arguments)]
pub fn reconstruct<'py>(
    py: Python<'py>,
    image: Array<'py>,
    noise: Option<Array<'py>>,
    noise_rms: Option<f64>,
    psf: Option<Array<'py>>,
    mask: Option<Array<'py>>,
    pixel_scale: Option<f64>,
    z_lens: Option<f64>,
    z_source: Option<f64>,
    h0: f64,
    omega_m: f64,
    center: Option<(f64, f64)>,
    cutout: Option<f64>,
    auto_mask: bool,
    regularization: &str,
    search_source_grid: usize,
    source_grid: usize,
    max_evaluations: usize,
    search_binning: usize,
    simplex_tolerance: f64,
    lens_model: &str,
    exposure_time: Option<f64>,
    gain: Option<f64>,
    out: Option<PathBuf>,
    name: Option<String>,
    uncertainty: bool,
    walkers: Option<usize>,
    steps: usize,
    sampler_seed: u64,
    fix_light: bool,
    temperature: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let start = Instant::now();
    let obs = observation(&image, noise.as_ref(), noise_rms, psf.as_ref(), mask.as_ref(), pixel_scale, Some((exposure_time, gain)))?;
    let cosmology = FlatLcdm::new(h0, omega_m).map_err(value_error)?;
    let redshifts = match (z_lens, z_source) {
        (Some(zl), Some(zs)) => {
            cosmology.lens_distances(zl, zs).map_err(value_error)?;
            Some((zl, zs))
        }
        (None, None) => None,
        _ => return Err(value_error("z_lens and z_source: give both or neither")),
    };
    let family = LensFamily::parse(lens_model).map_err(|e| value_error(format!("lens_model: {e}")))?;
    if uncertainty {
        check_sampled_family(family).map_err(|e| value_error(format!("lens_model: with uncertainty, {e}")))?;
    }
    let posterior = uncertainty
        .then(|| PosteriorOptions::new(walkers, steps, sampler_seed).and_then(|o| o.with_temperature(temperature)))
        .transpose()
        .map_err(value_error)?;
    let chain_path = out.as_ref().map(|dir| dir.join("chain.npz"));
    let resumed = match (&posterior, &chain_path) {
        (Some(p), Some(path)) if path.exists() => Some(read_chain(path, p).map_err(value_error)?),
        (Some(_), _) => Some(Chain::default()),
        (None, _) => None,
    };
    let options = PipelineOptions {
        prep: PrepOptions { center_pixel: center, cutout_arcsec: cutout },
        auto_mask,
        refine: RefineOptions {
            source_size: search_source_grid,
            final_source_size: source_grid,
            regularization: self::regularization(regularization)?,
            max_evaluations,
            search_binning,
            simplex_tolerance,
            family,
            ..RefineOptions::default()
        },
        hint: None,
    };
    let label = name.unwrap_or_else(|| "image".into());
    let result = py.detach(|| reconstruct_lens(&obs, &options)).map_err(|e| value_error(format!("{label}: {e}")))?;
    let report = ReportOptions {
        redshifts,
        cosmology,
        name: label.clone(),
        seconds: start.elapsed().as_secs_f64(),
        start: astrorim_infer::pipeline::START_DESCRIPTION.into(),
    };
    let mut document = match &out {
        Some(dir) => write_products(dir, &result, &report).map_err(value_error)?,
        None => result_document(&result, &report, Path::new(&label)).map_err(value_error)?,
    };
    let dict = PyDict::new(py);
    if let (Some(p), Some(chain)) = (&posterior, resumed) {
        let map = result.fit.lens;
        let sampled = Instant::now();
        let light = (!fix_light).then(|| LightSampling::of(&result, &options.refine));
        let chain = py
            .detach(|| {
                sample_lens(&result.lens_problem(), &map, &options.refine, p, chain, light.as_ref(), |c| -> Result<(), String> {
                    chain_path.as_ref().map_or(Ok(()), |path| write_chain(path, c, p).map_err(|e| e.to_string()))
                })
            })
            .map_err(|e| value_error(format!("{label}: {e}")))?;
        let summary = summarize(&chain, &map, report.distances().as_ref(), sampled.elapsed().as_secs_f64());
        document["posterior"] = match &out {
            Some(dir) => write_posterior(dir, &chain, &summary, &map_position(&map, light.as_ref().map(LightSampling::fitted).as_ref()))
                .map_err(value_error)?,
            None => serde_json::to_value(&summary).map_err(value_error)?,
        };
        let (n_steps, n_walkers) = (chain.steps(), chain.walkers);
        let positions = Array3::from_shape_vec((n_steps, n_walkers, chain.ndim()), chain.positions.clone()).map_err(value_error)?;
        let log_prob = Array2::from_shape_vec((n_steps, n_walkers), chain.log_prob.clone()).map_err(value_error)?;
        dict.set_item("chain", positions.into_pyarray(py))?;
        dict.set_item("log_prob", log_prob.into_pyarray(py))?;
        dict.set_item("parameter_names", chain.names.clone())?;
    }
    let n = result.prepared.grid.nx;
    let m = result.fit.source_grid.size;
    let maps = Maps::of(&result);
    dict.set_item("result_json", serde_json::to_string(&document).map_err(value_error)?)?;
    dict.set_item("observed", to_numpy(py, result.prepared.data.clone(), n, n)?)?;
    dict.set_item("sigma", to_numpy(py, result.sigma.clone(), n, n)?)?;
    dict.set_item("model", to_numpy(py, result.model.clone(), n, n)?)?;
    dict.set_item("lens_light", to_numpy(py, result.light_image.clone(), n, n)?)?;
    dict.set_item("lensed_source", to_numpy(py, result.lensed_source.clone(), n, n)?)?;
    dict.set_item("residual", to_numpy(py, maps.residual, n, n)?)?;
    dict.set_item("normalized_residual", to_numpy(py, maps.normalized_residual, n, n)?)?;
    dict.set_item("kappa", to_numpy(py, maps.kappa, n, n)?)?;
    dict.set_item("arcs", to_numpy(py, maps.arcs, n, n)?)?;
    dict.set_item("source", to_numpy(py, result.fit.solution.source.clone(), m, m)?)?;
    Ok(dict)
}

/// The source of an observation for a given lens (JSON text with a `lens`
/// list, or a `result.json`) by regularized inversion, λ given or at the
/// evidence maximum (see `astrorim.invert`).
#[pyfunction]
#[pyo3(signature = (
    image, lens_json, *, noise = None, noise_rms = None, psf = None, mask = None, pixel_scale = None,
    source_grid = 64, source_fov = None, source_center = (0.0, 0.0), supersampling = 2,
    regularization = "gradient", lam = None, psf_floor = 1e-3
))]
#[allow(clippy::too_many_arguments)]
pub fn invert<'py>(
    py: Python<'py>,
    image: Array<'py>,
    lens_json: &str,
    noise: Option<Array<'py>>,
    noise_rms: Option<f64>,
    psf: Option<Array<'py>>,
    mask: Option<Array<'py>>,
    pixel_scale: Option<f64>,
    source_grid: usize,
    source_fov: Option<f64>,
    source_center: (f64, f64),
    supersampling: usize,
    regularization: &str,
    lam: Option<f64>,
    psf_floor: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let obs = observation(&image, noise.as_ref(), noise_rms, psf.as_ref(), mask.as_ref(), pixel_scale, None)?;
    let lens = parse_lens_list(lens_json).map_err(value_error)?;
    let options = InvertOptions {
        source_size: source_grid,
        source_fov,
        source_center,
        supersampling,
        regularization: self::regularization(regularization)?,
        lambda: lam,
        psf_floor,
    };
    let inverted = py.detach(|| invert_observation(&obs, &lens, &options, "image")).map_err(value_error)?;
    let (nx, ny, m) = (obs.image.nx, obs.image.ny, inverted.source_grid.size);
    let residual: Vec<f64> = obs.image.data.iter().zip(&inverted.best.model).map(|(d, f)| d - f).collect();
    let curve: Vec<f64> = inverted.curve.iter().flat_map(|&(l, e)| [l, e]).collect();
    let dict = PyDict::new(py);
    dict.set_item("record_json", serde_json::to_string(&inverted.record).map_err(value_error)?)?;
    dict.set_item("source", to_numpy(py, inverted.best.source, m, m)?)?;
    dict.set_item("model", to_numpy(py, inverted.best.model, ny, nx)?)?;
    dict.set_item("residual", to_numpy(py, residual, ny, nx)?)?;
    dict.set_item("evidence_curve", to_numpy(py, curve, inverted.curve.len(), 2)?)?;
    Ok(dict)
}
