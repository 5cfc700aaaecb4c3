//! `astrorim`: strong-lens rendering, simulation and reconstruction.
//!
//! Every failure prints one line, `astrorim: error: …`, naming the file or
//! field at fault, and exits with status 2.

mod bench;
mod compare;
mod cosmo;
mod coverage;
mod invert;
mod plot;
mod posterior;
mod reconstruct;
mod render;
mod simulate;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc keeps freed pages for reuse: the simulator allocates and frees
/// ~2 MB of image and FFT buffers per sample, which glibc's allocator
/// returned to the kernel and page-faulted back in (11 % of its time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "astrorim", version, about = "Strong gravitational lensing: render, simulate and reconstruct lenses")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render a lens scene described in JSON to a FITS image.
    Render(render::RenderArgs),
    /// Distances, critical density, velocity dispersion and Einstein mass for a lens.
    Cosmo(cosmo::CosmoArgs),
    /// Simulate training data (AstroRIM variants v1–v6, mix, or a preset file).
    Simulate(simulate::SimulateArgs),
    /// Train the RIM (known-lens or joint) or the encoder on simulated data.
    Train(train::TrainArgs),
    /// Evaluate a trained RIM against its back-projection and the evidence-optimized inversion
    Evaluate(train::EvaluateArgs),
    /// An observed lens → source, refined lens model (lenstronomy and physical units), maps and a diagnostic panel.
    Reconstruct(reconstruct::ReconstructArgs),
    /// The lens posterior: `reconstruct --uncertainty` (the same flags) — ensemble MCMC over the lens after the refinement, the source solved in the likelihood.
    Sample(reconstruct::ReconstructArgs),
    /// The pixelated source for a given lens by regularized inversion, λ by the Bayesian evidence.
    Invert(invert::InvertArgs),
    /// MSE, SSIM (Gaussian and uniform-7) and PSNR between two FITS images.
    Compare(compare::CompareArgs),
    /// Line plot of CSV columns (training metrics, learning curves) as a labelled PNG.
    Plot(plot::PlotArgs),
    /// Benchmarks on this machine.
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Render(args) => render::run(args),
        Command::Cosmo(args) => cosmo::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Reconstruct(args) => reconstruct::run(args),
        Command::Sample(mut args) => {
            args.posterior.uncertainty = true;
            reconstruct::run(args)
        }
        Command::Invert(args) => invert::run(args),
        Command::Train(args) => train::run_train(args),
        Command::Evaluate(args) => train::run_evaluate(args),
        Command::Plot(args) => plot::run(args),
        Command::Bench(args) => bench::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("astrorim: error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::from(2)
        }
    }
}
