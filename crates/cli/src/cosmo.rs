//! `astrorim cosmo --z-lens ZL --z-source ZS [--theta-e ARCSEC] [--h0 --omega-m] [--json]`.

use anyhow::Result;
use astrorim_physics::cosmology::FlatLcdm;
use clap::Args;

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

pub fn run(args: CosmoArgs) -> Result<()> {
    let cosmo = FlatLcdm::new(args.h0, args.omega_m)?;
    let report = cosmo.summary(args.z_lens, args.z_source, args.theta_e)?;
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
