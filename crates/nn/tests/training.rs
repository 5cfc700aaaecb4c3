//! A tiny known-lens training run: the loss falls, checkpoints reload to the
//! same model, and damaged checkpoints are refused.

use astrorim_nn::forward::ForwardOperator;
use astrorim_nn::known_lens::{batch, reconstruct, source_half_width};
use astrorim_nn::train::{load_checkpoint, train, TrainConfig};
use astrorim_sim::dataset::{generate, prepare, DatasetReader, Generator, RunSpec};
use astrorim_sim::preset::{Preset, BUILTIN};
use burn::tensor::Device;
use std::cell::RefCell;
use std::path::Path;

fn tiny_dataset(dir: &Path) {
    let text = BUILTIN[0]
        .1
        .replace("pixel_scale = 0.04", "pixel_scale = 0.12")
        .replace("size = 96", "size = 32")
        .replace("source_size = 96", "source_size = 32")
        .replace("psf_size = 21", "psf_size = 9");
    let preset = Preset::from_toml(&text).unwrap();
    let spec = RunSpec {
        generator: Generator { name: "tiny".into(), members: vec![("v1".into(), preset, 1.0)] },
        count: 16,
        seed: 5,
        shard_size: 8,
        shard: None,
        out: dir.to_path_buf(),
    };
    let (chunks, _) = prepare(&spec).unwrap();
    generate(&spec, &chunks, &|_| {}).unwrap();
}

fn config(data: &Path, out: &Path, steps: usize) -> TrainConfig {
    let text = format!(
        "data = {:?}\nout = {:?}\niterations = 4\nbatch_size = 4\nsteps = {steps}\nlearning_rate = 0.003\ncheckpoint_every = 6\n",
        data.to_str().unwrap(),
        out.to_str().unwrap()
    );
    let path = out.with_extension("toml");
    std::fs::write(&path, text).unwrap();
    TrainConfig::from_toml(&path).unwrap()
}

#[test]
fn loss_falls_and_checkpoints_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (data, out) = (dir.path().join("data"), dir.path().join("run"));
    tiny_dataset(&data);
    let device = Device::default();
    let losses = RefCell::new(Vec::new());
    let meta = train(&config(&data, &out, 24), &device, &|_, l| losses.borrow_mut().push(l)).unwrap();
    let l = losses.into_inner();
    let (first, last) = ((l[0] + l[1]) / 2.0, l[l.len() - 4..].iter().sum::<f64>() / 4.0);
    assert!(last < 0.8 * first, "loss did not fall: first {first:.4e}, last {last:.4e}");
    assert_eq!(meta.step, 24);
    assert_eq!(std::fs::read_to_string(out.join("metrics.csv")).unwrap().lines().count(), 1 + 4);

    // The reloaded checkpoint reconstructs exactly as the saved model did.
    let (rim, meta) = load_checkpoint(&out, &device).unwrap();
    let reader = DatasetReader::open(&data).unwrap();
    let chunk = reader.load(1).unwrap();
    let op = ForwardOperator::new(32, 1, 32, source_half_width(&chunk, 32, 32), &device);
    let b = batch(&chunk, &[0, 1], &op, 9, &device);
    let a = reconstruct(&rim, &b.operator(&op), &b, meta.iterations).pop().unwrap().into_data().try_into_vec::<f32>().unwrap();
    let (rim2, _) = load_checkpoint(&out, &device).unwrap();
    let c = reconstruct(&rim2, &b.operator(&op), &b, meta.iterations).pop().unwrap().into_data().try_into_vec::<f32>().unwrap();
    assert_eq!(a, c);

    // Damaged checkpoints are refused with the file named.
    let weights = out.join("rim.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 3]).unwrap();
    let e = load_checkpoint(&out, &device).expect_err("truncated weights must fail").to_string();
    assert!(e.contains("rim.safetensors"), "{e}");
    std::fs::write(&weights, &bytes).unwrap();
    let meta_path = out.join("rim.json");
    let text = std::fs::read_to_string(&meta_path).unwrap();
    std::fs::write(&meta_path, text.replace(astrorim_nn::train::ARCHITECTURE, "other-net")).unwrap();
    let e = load_checkpoint(&out, &device).expect_err("another architecture must fail").to_string();
    assert!(e.contains("architecture"), "{e}");
}

#[test]
fn config_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "data = \"d\"\nout = \"o\"\nlearning_rat = 0.1\n").unwrap();
    assert!(TrainConfig::from_toml(&path).unwrap_err().to_string().contains("learning_rat"));
    std::fs::write(&path, "data = \"d\"\nout = \"o\"\niterations = 0\n").unwrap();
    assert!(TrainConfig::from_toml(&path).unwrap_err().to_string().contains("iterations"));
}
