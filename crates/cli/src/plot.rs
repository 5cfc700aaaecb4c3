//! `astrorim plot`: a line plot of columns of a CSV table (metrics.csv of a
//! training run, a learning curve, a benchmark table) as a labelled PNG.

use anyhow::{anyhow, Result};
use astrorim_io::figure::{csv_series, LinePlot};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct PlotArgs {
    /// CSV file with a header row.
    csv: PathBuf,
    /// Column on the x axis.
    #[arg(long)]
    x: String,
    /// Columns on the y axis, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    y: Vec<String>,
    /// One curve per distinct value of this column.
    #[arg(long)]
    group: Option<String>,
    /// Figure title.
    #[arg(long)]
    title: String,
    /// Axis labels (default: the column names).
    #[arg(long)]
    x_label: Option<String>,
    #[arg(long)]
    y_label: Option<String>,
    /// Logarithmic y axis.
    #[arg(long)]
    log_y: bool,
    /// Output PNG.
    #[arg(short, long)]
    out: PathBuf,
}

pub fn run(args: PlotArgs) -> Result<()> {
    let ys: Vec<&str> = args.y.iter().map(String::as_str).collect();
    let series = csv_series(&args.csv, &args.x, &ys, args.group.as_deref())?;
    if series.is_empty() {
        return Err(anyhow!("{}: no numeric rows in columns {}, {}", args.csv.display(), args.x, args.y.join(", ")));
    }
    let y_label = args.y_label.clone().unwrap_or_else(|| args.y.join(", "));
    let plot = LinePlot { title: &args.title, x_label: args.x_label.as_deref().unwrap_or(&args.x), y_label: &y_label, log_y: args.log_y };
    plot.save(&args.out, &series)?;
    eprintln!("{}: {} curve(s)", args.out.display(), series.len());
    Ok(())
}
