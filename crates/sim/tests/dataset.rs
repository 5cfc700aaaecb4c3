//! Datasets are deterministic across threads and shardings, resume without
//! redoing finished chunks, and read back lazily.

use astrorim_sim::dataset::{generate, prepare, shard_path, DatasetReader, Generator, RunSpec};
use std::path::Path;

fn run(out: &Path, threads: usize, shard: Option<(u64, u64)>) {
    let spec =
        RunSpec { generator: Generator::named("mix", None).unwrap(), count: 10, seed: 21, shard_size: 4, shard, out: out.to_path_buf() };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let (chunks, _) = prepare(&spec).unwrap();
        generate(&spec, &chunks, &|_| {}).unwrap();
    });
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    v
}

#[test]
fn identical_across_threads_and_shardings_and_resumable() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    run(a.path(), 1, None);
    run(b.path(), 2, None);
    run(c.path(), 2, Some((2, 2)));
    run(c.path(), 1, Some((1, 2)));
    let fa = files(a.path());
    assert_eq!(
        fa.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        [
            "manifest.json",
            "shard-00000.npz",
            "shard-00001.npz",
            "shard-00002.npz",
            "truth-00000.csv",
            "truth-00001.csv",
            "truth-00002.csv",
            "truth.csv"
        ]
    );
    assert!(fa == files(b.path()), "thread count changed the output");
    assert!(fa == files(c.path()), "sharding changed the output");

    // Resume: a deleted chunk is regenerated identically; finished chunks are
    // not rewritten (a sentinel put in place of chunk 0 survives the resume).
    let original = std::fs::read(shard_path(a.path(), 0)).unwrap();
    std::fs::write(shard_path(a.path(), 0), b"sentinel: a finished chunk").unwrap();
    std::fs::remove_file(shard_path(a.path(), 1)).unwrap();
    run(a.path(), 2, None);
    assert_eq!(std::fs::read(shard_path(a.path(), 0)).unwrap(), b"sentinel: a finished chunk", "a finished chunk was rewritten");
    std::fs::write(shard_path(a.path(), 0), &original).unwrap();
    assert!(fa == files(a.path()), "the regenerated chunk differs");

    // Lazy reading.
    let reader = DatasetReader::open(a.path()).unwrap();
    assert_eq!(reader.available_chunks(), vec![0, 1, 2]);
    let chunk = reader.load(2).unwrap();
    assert_eq!(chunk.count, 2);
    assert_eq!(chunk.index, vec![8, 9]);
    assert_eq!(chunk.image.len(), 2 * 96 * 96);
}

#[test]
fn a_different_dataset_in_the_same_directory_is_refused() {
    let a = tempfile::tempdir().unwrap();
    run(a.path(), 1, Some((1, 3)));
    let spec = RunSpec {
        generator: Generator::named("v1", None).unwrap(),
        count: 10,
        seed: 21,
        shard_size: 4,
        shard: None,
        out: a.path().to_path_buf(),
    };
    let e = prepare(&spec).unwrap_err().to_string();
    assert!(e.contains("different dataset"), "{e}");
}
