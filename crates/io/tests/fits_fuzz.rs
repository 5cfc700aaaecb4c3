//! The FITS reader on random and truncated bytes: every input gives Ok or
//! an error naming the file, never a panic.

use astrorim_io::fits::{read_image, write_fits, HduOut, Precision};
use astrorim_physics::Image;
use proptest::prelude::*;

fn valid_fits() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.fits");
    let image = Image { nx: 7, ny: 5, data: (0..35).map(|k| k as f64 * 0.25).collect() };
    write_fits(&path, &[HduOut { name: None, image: &image, keywords: vec![] }], Precision::F32, Some(0.05)).unwrap();
    std::fs::read(&path).unwrap()
}

fn read_bytes(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.fits");
    std::fs::write(&path, bytes).unwrap();
    if let Err(e) = read_image(&path, None) {
        assert!(e.to_string().contains("fuzz.fits"), "the error names the file: {e}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..6000)) {
        read_bytes(&bytes);
    }

    #[test]
    fn truncated_and_corrupted_files_never_panic(cut in 0usize..8640, flips in proptest::collection::vec((0usize..8640, any::<u8>()), 0..8)) {
        let mut bytes = valid_fits();
        for (at, value) in flips {
            if at < bytes.len() {
                bytes[at] = value;
            }
        }
        bytes.truncate(cut.min(bytes.len()));
        read_bytes(&bytes);
    }
}
