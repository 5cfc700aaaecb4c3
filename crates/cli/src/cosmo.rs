//! `astrorim cosmo --z-lens ZL --z-source ZS [--theta-e ARCSEC] [--h0 --omega-m] [--json]`.

use anyhow::Result;
use astrorim_physics::cosmology::FlatLcdm;
use clap::Args;
use serde::Serialize;

#[derive(Args)]
pub struct CosmoArgs {
    /// Lens redshift.
    #[arg(long, allow_negative_numbers = true)]
    z_lens: f64,
    /// Source redshift (must exceed the lens redshift).
    #[arg(long, allow_negative_numbers = true)]
    z_source: f64,
    /// Einstein radius in arcsec: adds the SIS velocity dispersion and the Einstein mass.
    #[arg(long, allow_negative_numbers = true)]
    theta_e: Option<f64>,
    /// Hubble constant, km/s/Mpc (flat ΛCDM, no radiation).
    #[arg(long, default_value_t = 70.0, allow_negative_numbers = true)]
    h0: f64,
    /// Matter density Ω_m (Ω_Λ = 1 − Ω_m).
    #[arg(long, default_value_t = 0.3, allow_negative_numbers = true)]
    omega_m: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    d_lens_mpc: f64,
    d_source_mpc: f64,
    d_lens_source_mpc: f64,
    sigma_crit_msun_per_arcsec2: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    theta_e_arcsec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sigma_v_sis_kms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mass_einstein_msun: Option<f64>,
}

pub fn run(args: CosmoArgs) -> Result<()> {
    let cosmo = FlatLcdm::new(args.h0, args.omega_m)?;
    let d = cosmo.lens_distances(args.z_lens, args.z_source)?;
    if let Some(t) = args.theta_e {
        if !(t.is_finite() && t > 0.0) {
            anyhow::bail!("theta_e: must be a positive number of arcsec, got {t}");
        }
    }
    let report = Report {
        d_lens_mpc: d.d_lens_mpc,
        d_source_mpc: d.d_source_mpc,
        d_lens_source_mpc: d.d_lens_source_mpc,
        sigma_crit_msun_per_arcsec2: d.sigma_crit_msun_per_arcsec2,
        theta_e_arcsec: args.theta_e,
        sigma_v_sis_kms: args.theta_e.map(|t| d.sigma_v_sis_kms(t)),
        mass_einstein_msun: args.theta_e.map(|t| d.einstein_mass_msun(t)),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("flat ΛCDM  H0 = {} km/s/Mpc  Ωm = {}", args.h0, args.omega_m);
        println!("D_d    (lens)           {:>14.4} Mpc", report.d_lens_mpc);
        println!("D_s    (source)         {:>14.4} Mpc", report.d_source_mpc);
        println!("D_ds   (lens → source)  {:>14.4} Mpc", report.d_lens_source_mpc);
        println!("Σ_crit                  {:>14.6e} M☉/arcsec²", report.sigma_crit_msun_per_arcsec2);
        if let (Some(t), Some(sv), Some(m)) = (report.theta_e_arcsec, report.sigma_v_sis_kms, report.mass_einstein_msun) {
            println!("θ_E                     {t:>14.4} arcsec");
            println!("σ_v    (SIS)            {sv:>14.2} km/s");
            println!("M(<θ_E)                 {m:>14.6e} M☉");
        }
    }
    Ok(())
}
