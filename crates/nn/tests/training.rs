//! Tiny training runs: the loss falls, checkpoints reload to the same model,
//! damaged checkpoints are refused, and an interrupted-and-resumed joint run
//! ends identical to an uninterrupted one.

use astrorim_nn::checkpoint::load_checkpoint;
use astrorim_nn::data::{batch, source_half_width};
use astrorim_nn::forward::ForwardOperator;
use astrorim_nn::joint::PsfSource;
use astrorim_nn::train::{train, TrainConfig};
use astrorim_sim::dataset::{generate, prepare, DatasetReader, Generator, RunSpec};
use astrorim_sim::preset::{Preset, BUILTIN};
use burn::store::ModuleSnapshot;
use burn::tensor::Device;
use std::cell::RefCell;
use std::path::Path;

fn tiny_dataset(dir: &Path, variant: usize) {
    let text = BUILTIN[variant]
        .1
        .replace("pixel_scale = 0.04", "pixel_scale = 0.12")
        .replace("size = 96", "size = 32")
        .replace("source_size = 96", "source_size = 32")
        .replace("psf_size = 21", "psf_size = 9");
    let preset = Preset::from_toml(&text).unwrap();
    let spec = RunSpec {
        generator: Generator { name: "tiny".into(), members: vec![(BUILTIN[variant].0.into(), preset, 1.0)], stratum: None },
        count: 16,
        seed: 5,
        shard_size: 8,
        shard: None,
        out: dir.to_path_buf(),
    };
    let (chunks, _) = prepare(&spec).unwrap();
    generate(&spec, &chunks, &|_| {}).unwrap();
}

fn config(data: &Path, out: &Path, steps: usize, extra: &str) -> TrainConfig {
    let rate = if extra.contains("learning_rate_rim") { "" } else { "learning_rate_rim = 0.003\n" };
    let text = format!(
        "data = {:?}\nout = {:?}\niterations = 4\nbatch_size = 4\nsteps = {steps}\n{rate}validation_samples = 4\nema_decay = 0.5\n{extra}",
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
    tiny_dataset(&data, 0);
    let device = Device::default();
    let losses = RefCell::new(Vec::new());
    let (meta, trained) = train(&config(&data, &out, 24, "validate_every = 6\n"), &device, &|r| losses.borrow_mut().push(r.loss)).unwrap();
    let l = losses.into_inner();
    let (first, last) = ((l[0] + l[1]) / 2.0, l[l.len() - 4..].iter().sum::<f64>() / 4.0);
    assert!(last < 0.8 * first, "loss did not fall: first {first:.4e}, last {last:.4e}");
    assert_eq!(meta.step, 24);
    assert_eq!(std::fs::read_to_string(out.join("metrics.csv")).unwrap().lines().count(), 1 + 4);

    // The reloaded checkpoint reconstructs bit for bit as the trained model in memory.
    let (model, meta) = load_checkpoint(&out, &device).unwrap();
    let reader = DatasetReader::open(&data).unwrap();
    let chunk = reader.load(1).unwrap();
    let op = ForwardOperator::new(32, 1, 32, source_half_width(&chunk, 0, 32, 32), &device);
    let b = batch(&chunk, &[0, 1], None, &op, 9, &device);
    let run = |m: &astrorim_nn::model::AstroRim| {
        m.reconstruct(&op, &b, PsfSource::Observed, meta.config.iterate())
            .estimates
            .pop()
            .unwrap()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap()
    };
    assert_eq!(run(&model), run(&trained), "the saved-then-loaded model differs from the trained one");

    // Damaged checkpoints are refused with the file named.
    let weights = out.join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 3]).unwrap();
    let e = load_checkpoint(&out, &device).expect_err("truncated weights must fail").to_string();
    assert!(e.contains("model.safetensors"), "{e}");
    std::fs::write(&weights, &bytes).unwrap();
    let meta_path = out.join("model.json");
    let text = std::fs::read_to_string(&meta_path).unwrap();
    std::fs::write(&meta_path, text.replace(astrorim_nn::checkpoint::ARCHITECTURE, "other-net")).unwrap();
    let e = load_checkpoint(&out, &device).expect_err("another architecture must fail").to_string();
    assert!(e.contains("architecture"), "{e}");
    // Metadata claiming the joint mode for known-lens weights: mismatched tensors.
    std::fs::write(&meta_path, text.replace("\"mode\": \"known-lens\"", "\"mode\": \"joint\"")).unwrap();
    let e = load_checkpoint(&out, &device).expect_err("mismatched metadata must fail").to_string();
    assert!(e.contains("model.safetensors") && e.contains("missing"), "{e}");
}

/// All exported tensors by name, as f32 values.
fn exported(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let (model, _) = load_checkpoint(dir, &Device::default()).unwrap();
    model
        .collect(None, None, false)
        .into_iter()
        .map(|t| (t.name.clone(), t.to_bytes().unwrap().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()))
        .collect()
}

#[test]
fn an_interrupted_joint_run_resumes_exactly() {
    // Joint mode with the learned PSF, augmentation, EMA, warm-up, global
    // clipping and the supervised term: 6 steps straight, or 3 steps, stop,
    // and `resume = true` to 6, must give the same weights and metrics.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    tiny_dataset(&data, 1);
    let device = Device::default();
    let extra = "mode = \"joint\"\npsf = \"learned\"\nlearning_rate_forward = 0.001\nwarmup_steps = 2\nvalidate_every = 3\nlambda_supervised = 1.0\ngrad_clip = 0.5\nseed = 3\n";
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    train(&config(&data, &a, 6, extra), &device, &|_| {}).unwrap();
    train(&config(&data, &b, 3, extra), &device, &|_| {}).unwrap();
    let resumed = config(&data, &b, 6, &format!("{extra}resume = true\n"));
    let (meta, _) = train(&resumed, &device, &|_| {}).unwrap();
    assert_eq!(meta.step, 6);
    let (ta, tb) = (exported(&a), exported(&b));
    assert!(ta.len() > 20, "joint model has the encoder: {} tensors", ta.len());
    assert_same_weights(&ta, &tb);
    assert_eq!(metrics_without_timing(&a), metrics_without_timing(&b), "metrics rows (without the timing columns)");
    // A finished run has nothing left to do.
    assert!(train(&resumed, &device, &|_| {}).unwrap_err().to_string().contains("nothing to do"));
}

/// Two exports hold the same tensors, equal up to the last bits that
/// multithreaded reductions may change (a resume that lost the optimizer
/// moments or the EMA is off by ~1e-3).
fn assert_same_weights(a: &[(String, Vec<f32>)], b: &[(String, Vec<f32>)]) {
    assert_eq!(a.len(), b.len());
    for ((na, va), (nb, vb)) in a.iter().zip(b) {
        assert_eq!(na, nb);
        let scale = va.iter().fold(1e-6f32, |m, x| m.max(x.abs()));
        let worst = va.iter().zip(vb).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(worst <= 1e-5 * scale, "tensor {na} differs after resume by {worst} (scale {scale})");
    }
}

/// metrics.csv rows without train_seconds and samples_per_second.
fn metrics_without_timing(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap()
        .lines()
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            assert_eq!(cells.len(), 10, "{l}");
            [&cells[..3], &cells[4..9]].concat().join(",")
        })
        .collect()
}

#[test]
fn on_the_fly_training_resumes_exactly() {
    // generator = "mix": batches simulated in the loader (v1…v6 at 96²),
    // validation from a disjoint seed; 2 steps straight equal 1 + resume.
    let dir = tempfile::tempdir().unwrap();
    let device = Device::default();
    let run = |out: &Path, steps: usize, resume: bool| {
        let text = format!(
            "generator = \"mix\"\nout = {:?}\niterations = 2\nbatch_size = 2\nsteps = {steps}\nvalidate_every = 1\nvalidation_samples = 3\nlearning_rate_rim = 0.003\nema_decay = 0.5\nseed = 4\nresume = {resume}\n",
            out.to_str().unwrap()
        );
        let path = out.with_extension("toml");
        std::fs::write(&path, text).unwrap();
        train(&TrainConfig::from_toml(&path).unwrap(), &device, &|_| {}).unwrap().0
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run(&a, 2, false);
    run(&b, 1, false);
    let meta = run(&b, 2, true);
    assert_eq!(meta.step, 2);
    assert_eq!(meta.data_manifest["generator"], "mix");
    assert_same_weights(&exported(&a), &exported(&b));
    assert_eq!(metrics_without_timing(&a), metrics_without_timing(&b));
    // The validation loss is finite: every validation batch bound an operator of its own field of view.
    let last = metrics_without_timing(&a).pop().unwrap();
    assert!(last.split(',').nth(7).unwrap().parse::<f64>().unwrap().is_finite(), "{last}");
}

#[test]
fn the_encoder_stage_learns_theta_and_leaves_the_rim_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (data, out) = (dir.path().join("data"), dir.path().join("enc"));
    tiny_dataset(&data, 0);
    let device = Device::default();
    let extra = "mode = \"encoder\"\nlambda_supervised = 1.0\nlambda_fwd = 0.0\nlearning_rate_forward = 0.002\nwarmup_steps = 5\nvalidate_every = 30\nseed = 9\naugment = false\n";
    let losses = RefCell::new(Vec::new());
    let (meta, trained) = train(&config(&data, &out, 30, extra), &device, &|r| losses.borrow_mut().push(r.loss)).unwrap();
    assert_eq!(meta.config.mode, astrorim_nn::model::Mode::Encoder);
    let l = losses.into_inner();
    let (first, last) = ((l[0] + l[1] + l[2]) / 3.0, l[l.len() - 3..].iter().sum::<f64>() / 3.0);
    assert!(last < 0.7 * first, "supervised loss did not fall: {first:.4e} → {last:.4e} {l:?}");
    // The RIM is neither run nor updated: its weights are the seeded initial ones.
    let fresh = astrorim_nn::model::AstroRim::new(astrorim_nn::model::Mode::Encoder, 9, &device, Some(9));
    let weights = |m: &astrorim_nn::model::AstroRim| -> Vec<Vec<u8>> {
        m.rim.collect(None, None, false).into_iter().map(|t| t.to_bytes().unwrap().to_vec()).collect()
    };
    assert_eq!(weights(&trained), weights(&fresh));
    // The exported model reloads in its mode.
    let (reloaded, _) = load_checkpoint(&out, &device).unwrap();
    assert!(reloaded.forward.is_some());
}

#[test]
fn a_joint_run_starts_from_the_known_lens_rim_and_the_encoder_stage() {
    // Stage 3 of the recipe: init_rim and init_forward take the RIM of a
    // known-lens model and the encoder of an encoder-stage model. With
    // learning rates of 1e-9 the exported weights after one step are those
    // two parts, tensor by tensor.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    tiny_dataset(&data, 0);
    let device = Device::default();
    let (rim_run, encoder_run, joint) = (dir.path().join("rim"), dir.path().join("encoder"), dir.path().join("joint"));
    train(
        &config(
            &data,
            &rim_run,
            3,
            "validate_every = 3
",
        ),
        &device,
        &|_| {},
    )
    .unwrap();
    let encoder = "mode = \"encoder\"\nlambda_supervised = 1.0\nlearning_rate_forward = 0.002\nvalidate_every = 3\nseed = 11\n";
    train(&config(&data, &encoder_run, 3, encoder), &device, &|_| {}).unwrap();
    let extra = format!(
        "mode = \"joint\"\nlearning_rate_rim = 1e-9\nlearning_rate_forward = 1e-9\nvalidate_every = 1\ninit_rim = {:?}\ninit_forward = {:?}\nresume = true\n",
        rim_run.to_str().unwrap(),
        encoder_run.to_str().unwrap()
    );
    train(&config(&data, &joint, 1, &extra), &device, &|_| {}).unwrap();
    let part = |tensors: Vec<(String, Vec<f32>)>, prefix: &str| -> Vec<(String, Vec<f32>)> {
        tensors.into_iter().filter(|(name, _)| name.starts_with(prefix)).collect()
    };
    let (joint_rim, joint_forward) = (part(exported(&joint), "rim."), part(exported(&joint), "forward."));
    assert!(joint_rim.len() > 10 && joint_forward.len() > 10, "{} RIM and {} forward tensors", joint_rim.len(), joint_forward.len());
    assert_same_weights(&joint_rim, &part(exported(&rim_run), "rim."));
    assert_same_weights(&joint_forward, &part(exported(&encoder_run), "forward."));
    // The encoder stage's own (untrained) RIM is not what the joint run took.
    let untrained = part(exported(&encoder_run), "rim.");
    assert!(joint_rim.iter().zip(&untrained).any(|((_, a), (_, b))| a != b));
    // A known-lens model has no encoder to give.
    let wrong = format!("mode = \"joint\"\ninit_forward = {:?}\n", rim_run.to_str().unwrap());
    let e = train(&config(&data, &dir.path().join("wrong"), 1, &wrong), &device, &|_| {}).unwrap_err().to_string();
    assert!(e.contains("no encoder") && e.contains("rim"), "{e}");
}

#[test]
fn the_reconstruction_loss_reaches_the_encoder_only_with_lens_gradient() {
    // Joint mode with every encoder term at zero, from an encoder stage
    // (an untrained encoder's Θ sends every ray off the source grid): the
    // reconstruction loss is all there is. Through the detached operator the
    // encoder gets no gradient and keeps its weights; with lens_gradient it
    // learns, in Θ's heads only (the lens light is bound detached).
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    tiny_dataset(&data, 0);
    let device = Device::default();
    let encoder_run = dir.path().join("encoder");
    let encoder = "mode = \"encoder\"\nlambda_supervised = 1.0\nlambda_fwd = 0.0\nlearning_rate_forward = 0.002\nvalidate_every = 30\nseed = 9\naugment = false\n";
    train(&config(&data, &encoder_run, 30, encoder), &device, &|_| {}).unwrap();
    let base = format!(
        "mode = \"joint\"\nlambda_fwd = 0.0\nlambda_param = 0.0\nlambda_supervised = 0.0\nlearning_rate_forward = 0.01\nvalidate_every = 2\naugment = false\nseed = 12\ninit_forward = {:?}\n",
        encoder_run.to_str().unwrap()
    );
    let forward_part =
        |dir: &Path| -> Vec<(String, Vec<f32>)> { exported(dir).into_iter().filter(|(n, _)| n.starts_with("forward.")).collect() };
    let start = forward_part(&encoder_run);
    // Largest change of each tensor relative to its largest weight (AdamW's
    // decoupled weight decay alone moves them by lr·wd·steps = 2e-6).
    let moved = |a: &[(String, Vec<f32>)]| -> Vec<f32> {
        a.iter()
            .zip(&start)
            .map(|((_, x), (_, y))| {
                let scale = y.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
                x.iter().zip(y).fold(0f32, |m, (p, q)| m.max((p - q).abs())) / scale
            })
            .collect()
    };
    let (detached, through) = (dir.path().join("detached"), dir.path().join("through"));
    train(&config(&data, &detached, 2, &base), &device, &|_| {}).unwrap();
    let still = moved(&forward_part(&detached));
    assert!(still.iter().all(|&d| d < 1e-5), "the encoder moved without a gradient: {still:?}");
    train(&config(&data, &through, 2, &format!("{base}lens_gradient = true\n")), &device, &|_| {}).unwrap();
    let trained = forward_part(&through);
    let learned = moved(&trained);
    let changed = learned.iter().filter(|&&d| d > 1e-3).count();
    assert!(changed * 2 > trained.len(), "only {changed} of {} forward tensors moved: {learned:?}", trained.len());
    assert!(trained.iter().all(|(_, v)| v.iter().all(|x| x.is_finite())));
    // It reaches Θ's heads (the first 9 of the 12), not the lens light's:
    // each head is a column of the [64, 12] weight.
    let heads = |a: &[(String, Vec<f32>)]| a.iter().find(|(n, _)| n.ends_with("encoder.heads.weight")).expect("the heads").1.clone();
    let (before, after) = (heads(&start), heads(&trained));
    let scale = before.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    let column_moved = |j: usize| (0..64).map(|i| (after[i * 12 + j] - before[i * 12 + j]).abs()).fold(0f32, f32::max) / scale;
    assert!((9..12).all(|j| column_moved(j) < 1e-5), "the light's heads moved: {:?}", (9..12).map(column_moved).collect::<Vec<_>>());
    assert!((0..9).filter(|&j| column_moved(j) > 1e-3).count() >= 5, "Θ's heads: {:?}", (0..9).map(column_moved).collect::<Vec<_>>());
}

#[test]
fn the_shipped_model_loads_with_this_architecture() {
    // models/default is what every command uses without --model: it must
    // match the code (a change of architecture has to ship a new model).
    let dir = astrorim_nn::checkpoint::default_model_dir();
    let (model, meta) = load_checkpoint(&dir, &Device::default()).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    assert_eq!(meta.architecture, astrorim_nn::checkpoint::ARCHITECTURE);
    assert_eq!((meta.image_size, meta.source_size), (96, 96));
    assert_eq!(model.forward.is_some(), meta.config.mode != astrorim_nn::model::Mode::KnownLens);
}

/// With lens_jitter the known-lens operator is bound to a moved lens: the
/// loss of the same step changes, and the same seed gives the same jitter.
#[test]
fn lens_jitter_moves_the_training_operator_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    tiny_dataset(&data, 0);
    let device = Device::default();
    let first_losses = |name: &str, extra: &str| {
        let losses = RefCell::new(Vec::new());
        train(&config(&data, &dir.path().join(name), 2, &format!("validate_every = 2\n{extra}")), &device, &|r| {
            losses.borrow_mut().push(r.loss)
        })
        .unwrap();
        losses.into_inner()
    };
    let plain = first_losses("plain", "");
    let jittered = first_losses("jittered", "lens_jitter = 3.0\n");
    let again = first_losses("again", "lens_jitter = 3.0\n");
    assert_eq!(jittered, again, "the jitter is a function of the seed and the step");
    assert!((jittered[0] - plain[0]).abs() > 1e-3 * plain[0], "jitter left the loss at {} (true lens: {})", jittered[0], plain[0]);
}

#[test]
fn config_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "data = \"d\"\nout = \"o\"\nlearning_rat = 0.1\n").unwrap();
    assert!(TrainConfig::from_toml(&path).unwrap_err().to_string().contains("learning_rat"));
    std::fs::write(&path, "data = \"d\"\nout = \"o\"\nmode = \"joint\"\nema_decay = 1.5\n").unwrap();
    assert!(TrainConfig::from_toml(&path).unwrap_err().to_string().contains("ema_decay"));
    std::fs::write(&path, "data = \"d\"\nout = \"o\"\nmode = \"sideways\"\n").unwrap();
    assert!(TrainConfig::from_toml(&path).unwrap_err().to_string().contains("mode"));
    std::fs::write(&path, "data = \"d\"\nout = \"o\"\npsf = \"learned\"\n").unwrap();
    assert!(TrainConfig::from_toml(&path).unwrap_err().to_string().contains("psf"));
    std::fs::write(&path, "data = \"d\"\nout = \"o\"\niterations = 0\n").unwrap();
    assert!(TrainConfig::from_toml(&path).unwrap_err().to_string().contains("iterations"));
    std::fs::write(&path, "out = \"o\"\n").unwrap();
    assert!(TrainConfig::from_toml(&path).unwrap_err().to_string().contains("generator"));
    std::fs::write(&path, "data = \"d\"\ngenerator = \"v1\"\nout = \"o\"\n").unwrap();
    assert!(TrainConfig::from_toml(&path).unwrap_err().to_string().contains("exactly one"));
    std::fs::write(&path, "generator = \"v9\"\nout = \"o\"\n").unwrap();
    assert!(TrainConfig::from_toml(&path).unwrap_err().to_string().contains("generator"));
    std::fs::write(&path, "data = \"d\"\nout = \"o\"\ninit_forward = \"m\"\n").unwrap();
    assert!(TrainConfig::from_toml(&path).unwrap_err().to_string().contains("init_forward"));
    std::fs::write(&path, "data = \"d\"\nout = \"o\"\nmode = \"encoder\"\ninit_rim = \"m\"\n").unwrap();
    assert!(TrainConfig::from_toml(&path).unwrap_err().to_string().contains("init_rim"));
    std::fs::write(&path, "data = \"d\"\nout = \"o\"\nlens_gradient = true\n").unwrap();
    assert!(TrainConfig::from_toml(&path).unwrap_err().to_string().contains("lens_gradient"));
    std::fs::write(&path, "data = \"d\"\nout = \"o\"\nmode = \"joint\"\nlens_jitter = 1.0\n").unwrap();
    assert!(TrainConfig::from_toml(&path).unwrap_err().to_string().contains("lens_jitter"));
    std::fs::write(&path, "data = \"d\"\nout = \"o\"\nlens_jitter = -1.0\n").unwrap();
    assert!(TrainConfig::from_toml(&path).unwrap_err().to_string().contains("lens_jitter"));
    let test_seed = astrorim_sim::dataset::TEST_SET_SEED;
    std::fs::write(&path, format!("generator = \"mix\"\nout = \"o\"\nseed = {test_seed}\n")).unwrap();
    assert!(TrainConfig::from_toml(&path).unwrap_err().to_string().contains("test set"));
}

/// Rewrites shard 0 of a dataset with `image` replaced by `image` (shape `shape`).
fn rewrite_shard_image(data: &Path, image: &[f32], shape: Vec<usize>) {
    use astrorim_io::npz::{read_npz_array, write_npz, NpyArray, NpyData};
    let path = data.join("shard-00000.npz");
    let names = ["noise", "clean", "source", "psf", "pixel_scale", "source_pixel_scale", "index", "variant", "lenstronomy", "astrorim"];
    let owned: Vec<_> = names.iter().map(|n| read_npz_array(&path, n).unwrap()).collect();
    let f32s: Vec<Vec<f32>> = owned.iter().map(|a| a.to_f32().unwrap_or_default()).collect();
    let u64s = owned[6].to_u64().unwrap();
    let mut arrays = vec![NpyArray { name: "image", shape, data: NpyData::F32(image) }];
    for (k, (name, a)) in names.iter().zip(&owned).enumerate() {
        let data = match a.descr.as_str() {
            "<u8" => NpyData::U64(&u64s),
            d if d.starts_with("|S") => NpyData::Bytes { data: &a.bytes, width: d[2..].parse().unwrap() },
            "<f8" => NpyData::Bytes { data: &a.bytes, width: 8 },
            _ => NpyData::F32(&f32s[k]),
        };
        arrays.push(NpyArray { name, shape: a.shape.clone(), data });
    }
    write_npz(&path, &arrays).unwrap();
}

#[test]
fn damaged_shards_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let (data, out) = (dir.path().join("data"), dir.path().join("run"));
    tiny_dataset(&data, 0);
    let device = Device::default();
    let image = astrorim_io::npz::read_npz_array(&data.join("shard-00000.npz"), "image").unwrap().to_f32().unwrap();
    let mut with_nan = image.clone();
    with_nan[100] = f32::NAN;
    rewrite_shard_image(&data, &with_nan, vec![8, 32, 32]);
    let e = train(&config(&data, &out, 2, ""), &device, &|_| {}).unwrap_err().to_string();
    assert!(e.contains("shard-00000.npz") && e.contains("non-finite"), "{e}");
    rewrite_shard_image(&data, &image[..8 * 16 * 16], vec![8, 16, 16]);
    let e = train(&config(&data, &out, 2, ""), &device, &|_| {}).unwrap_err().to_string();
    assert!(e.contains("shard-00000.npz") && e.contains("shape"), "{e}");
    assert!(!out.join("model.safetensors").exists(), "nothing exported from a refused dataset");
}

#[test]
fn fine_tuning_divides_the_learning_rates_and_stops_early() {
    let dir = tempfile::tempdir().unwrap();
    let (data, base, tuned) = (dir.path().join("data"), dir.path().join("base"), dir.path().join("tuned"));
    tiny_dataset(&data, 0);
    let device = Device::default();
    train(&config(&data, &base, 4, "validate_every = 4\n"), &device, &|_| {}).unwrap();
    let extra = format!("validate_every = 1\nlearning_rate_rim = 0.5\nfine_tune_from = {:?}\n", base.to_str().unwrap());
    let (meta, _) = train(&config(&data, &tuned, 40, &extra), &device, &|_| {}).unwrap();
    let rows: Vec<String> = std::fs::read_to_string(tuned.join("metrics.csv")).unwrap().lines().skip(1).map(String::from).collect();
    assert!(rows[0].split(',').nth(4).unwrap().parse::<f64>().unwrap() == 0.05, "{}", rows[0]);
    // A learning rate of 0.05 wrecks the model: validation never improves on
    // the first, and early stopping ends the run after 5 flat validations.
    assert!(meta.step < 40, "stopped early at step {}", meta.step);
}
