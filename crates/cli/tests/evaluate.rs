//! `astrorim evaluate` with the shipped model on a few simulated lenses:
//! the report's files, all three methods, and the inversion limited to
//! `--inversion-samples`.

mod common;

use common::{astrorim, run_astrorim};

#[test]
fn evaluates_the_shipped_model_against_both_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let report = dir.path().join("report");
    let o = run_astrorim(&["simulate", "--variant", "v1", "-n", "4", "--seed", "5", "--out", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run_astrorim(&[
        "evaluate",
        "--data",
        data.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
        "-n",
        "3",
        "--inversion-samples",
        "1",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["per_sample.csv", "summary.json", "summary.md", "coherence.csv", "coherence.png", "examples.png"] {
        assert!(report.join(f).exists(), "{f} missing");
    }
    let per_sample = std::fs::read_to_string(report.join("per_sample.csv")).unwrap();
    let count = |method: &str| per_sample.lines().filter(|l| l.split(',').nth(2) == Some(method)).count();
    assert_eq!((count("rim"), count("back_projection"), count("inversion")), (3, 3, 1), "{per_sample}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(report.join("summary.json")).unwrap()).unwrap();
    // The shipped model is a joint one: without flags it runs on its encoder's lens (Table 2's joint mode),
    // read in the grid's eight symmetries.
    assert_eq!(
        (summary["mode"].as_str(), summary["lens"].as_str(), summary["encoder_views"].as_u64()),
        (Some("joint"), Some("joint (encoder's lens, the mean of 8 flips and turns)"), Some(8))
    );
    assert_eq!(std::fs::read_to_string(report.join("parameters.csv")).unwrap().lines().count(), 1 + 3);
    let inversion = summary["methods"].as_array().unwrap().iter().find(|m| m["group"] == "all" && m["method"] == "inversion").unwrap();
    assert_eq!(inversion["count"], 1);
    // The coherence of the RIM and the back-projection (over three samples) at
    // the largest scales is positive: each estimate resembles the truth there.
    // (The inversion's, one sample solved under the encoder's lens, measures
    // that one lens; the inversion itself is tested in astrorim-infer.)
    let coherence = std::fs::read_to_string(report.join("coherence.csv")).unwrap();
    let first: Vec<f64> = coherence.lines().nth(1).unwrap().split(',').skip(1).take(2).map(|v| v.parse().unwrap()).collect();
    assert!(first.iter().all(|&c| c > 0.3), "{coherence}");
}

/// The batches of a chunk run in parallel: the report is the same on one
/// thread as on several (three batches of four samples here).
#[test]
fn the_report_does_not_depend_on_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = run_astrorim(&["simulate", "--variant", "v1", "-n", "12", "--seed", "6", "--out", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = |threads: &str| {
        let out = dir.path().join(format!("report-{threads}"));
        let o = astrorim()
            .env("RAYON_NUM_THREADS", threads)
            .args(["evaluate", "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap(), "-n", "12", "--inversion-samples", "0"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(out.join("per_sample.csv")).unwrap()
    };
    let (one, three) = (report("1"), report("3"));
    assert_eq!(one.lines().count(), 1 + 2 * 12, "{one}");
    assert_eq!(one, three);
}

#[test]
fn refines_the_encoders_lens_only_in_joint_mode() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let report = dir.path().join("report");
    let encoder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/stage2-encoder");
    let o = run_astrorim(&["simulate", "--variant", "v2", "-n", "2", "--seed", "9", "--out", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let args = |extra: &[&str]| -> Vec<String> {
        let base = ["evaluate", "--data", data.to_str().unwrap(), "--out", report.to_str().unwrap(), "-n", "2", "--inversion-samples", "0"];
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        run_astrorim(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = run(&["--encoder", encoder.to_str().unwrap(), "--refine-steps", "3"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(report.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["refine_steps"], 3);
    assert!(summary["lens"].as_str().unwrap().contains("refined in 3 steps"), "{}", summary["lens"]);
    let parameters = std::fs::read_to_string(report.join("parameters.csv")).unwrap();
    assert_eq!(parameters.lines().count(), 3, "{parameters}");
    let o = run(&["--encoder", encoder.to_str().unwrap(), "--refine-parametric-steps", "4", "--refine-steps", "2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(report.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["refine_parametric_steps"], 4);
    assert!(summary["lens"].as_str().unwrap().contains("parametric source (1 component) in 4 steps"), "{}", summary["lens"]);
    let o = run(&["--encoder", encoder.to_str().unwrap(), "--refine-parametric-steps", "4", "--refine-parametric-components", "2"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(report.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["refine_parametric_components"], 2);
    assert!(summary["lens"].as_str().unwrap().contains("(2 components)"), "{}", summary["lens"]);
    // One reading of the observation or the mean of eight: different lenses.
    let lens_of = |views: &str| {
        let o = run(&["--encoder", encoder.to_str().unwrap(), "--encoder-views", views]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(report.join("summary.json")).unwrap()).unwrap();
        assert_eq!(summary["encoder_views"].as_u64(), Some(views.parse().unwrap()));
        std::fs::read_to_string(report.join("parameters.csv")).unwrap()
    };
    assert_ne!(lens_of("1"), lens_of("8"));
    let o = run(&["--encoder-views", "4"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("encoder-views"), "{}", String::from_utf8_lossy(&o.stderr));
    for components in ["0", "4"] {
        let o =
            run(&["--encoder", encoder.to_str().unwrap(), "--refine-parametric-steps", "4", "--refine-parametric-components", components]);
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("refine-parametric-components"), "{}", String::from_utf8_lossy(&o.stderr));
    }
    // The shipped model is a joint one: --known-lens runs its RIM on the true lens, which it does not refine.
    let o = run(&["--known-lens"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(report.join("summary.json")).unwrap()).unwrap();
    assert_eq!((summary["mode"].as_str(), summary["lens"].as_str()), (Some("known-lens"), Some("known lens")));
    for flag in ["--refine-steps", "--refine-parametric-steps"] {
        let o = run(&["--known-lens", flag, "3"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains(&flag[2..]), "{}", String::from_utf8_lossy(&o.stderr));
    }
}
