//! The scene and lens-list parsers on random text and on damaged valid
//! scenes: every input gives Ok or an error, never a panic.

use astrorim_physics::scene::{parse_lens_list, parse_scene};
use proptest::prelude::*;

const SCENE: &str = include_str!("../../../examples/sie_shear_sersic.json");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn random_text_never_panics(text in ".{0,400}") {
        let _ = parse_scene(&text);
        let _ = parse_lens_list(&text);
    }

    #[test]
    fn damaged_scenes_never_panic(cut in 0usize..2000, edits in proptest::collection::vec((0usize..2000, "[-0-9eE.,:{}\\[\\]\"a-zA-Z ]"), 0..6)) {
        let mut text: Vec<char> = SCENE.chars().collect();
        for (at, replacement) in edits {
            if at < text.len() {
                text.splice(at..at + 1, replacement.chars());
            }
        }
        text.truncate(cut.min(text.len()));
        let text: String = text.into_iter().collect();
        let _ = parse_scene(&text);
        let _ = parse_lens_list(&text);
    }

    #[test]
    fn numbers_of_any_size_in_a_lens_never_panic(theta in any::<f64>(), e1 in any::<f64>(), rs in any::<f64>()) {
        let text = format!(r#"{{"lens": [{{"type": "SIE", "theta_E": {theta:e}, "e1": {e1:e}}}, {{"type": "NFW", "Rs": {rs:e}, "alpha_Rs": 1}}]}}"#);
        let _ = parse_lens_list(&text);
    }
}
