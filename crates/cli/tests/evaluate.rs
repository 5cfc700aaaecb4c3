//! `astrorim evaluate` with the shipped model on a few simulated lenses:
//! the report's files, all three methods, and the inversion limited to
//! `--inversion-samples`.

mod common;

use common::run_astrorim;

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
    let inversion = summary["methods"].as_array().unwrap().iter().find(|m| m["group"] == "all" && m["method"] == "inversion").unwrap();
    assert_eq!(inversion["count"], 1);
    // The coherence of every method at the largest scales is positive: each estimate resembles the truth there.
    let coherence = std::fs::read_to_string(report.join("coherence.csv")).unwrap();
    let first: Vec<f64> = coherence.lines().nth(1).unwrap().split(',').skip(1).map(|v| v.parse().unwrap()).collect();
    assert!(first.iter().all(|&c| c > 0.3), "{coherence}");
}
