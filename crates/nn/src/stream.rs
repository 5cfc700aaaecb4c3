//! On-the-fly training data: batches simulated in the data loader instead of
//! read from shards (the simulator makes 40–300 samples/s per core, 10–50×
//! what training consumes).
//!
//! Batch k of a stream with seed s is `size` samples of one preset: the
//! preset is the generator's member for (s, k) (a weighted draw for `mix`),
//! and sample i of the batch is the simulator's sample k·size + i of (s,
//! preset). A batch therefore depends on (seed, step, index) only, no sample
//! is ever repeated, resume is exact, and every batch shares one source-grid
//! field of view (v5's is twice the others'), so it binds one operator.

use astrorim_sim::dataset::{Chunk, Generator, TEST_SET_SEED};
use astrorim_sim::simulate;
use rayon::prelude::*;

/// Salt between a run's training stream and its validation stream.
const VALIDATION_SALT: u64 = 0x7661_6c69_6461_7465;

/// A generator and the seed of one run's samples.
#[derive(Debug, Clone)]
pub struct SampleStream {
    pub generator: Generator,
    pub seed: u64,
}

impl SampleStream {
    /// The training stream of `seed`; the held-out test set's seed is refused
    /// so that no training run sees a test sample.
    pub fn training(generator: Generator, seed: u64) -> Result<Self, String> {
        if seed == TEST_SET_SEED || seed ^ VALIDATION_SALT == TEST_SET_SEED {
            return Err(format!("seed: {seed} generates the held-out test set; choose another"));
        }
        Ok(SampleStream { generator, seed })
    }

    /// The run's validation stream: the same generator, a disjoint seed.
    pub fn validation(&self) -> SampleStream {
        SampleStream { generator: self.generator.clone(), seed: self.seed ^ VALIDATION_SALT }
    }

    /// Batch `k` (`size` samples, simulated in parallel on the current rayon pool).
    pub fn batch(&self, k: u64, size: usize) -> Chunk {
        let (label, preset, _) = self.generator.member(self.seed, k);
        let first = k * size as u64;
        let samples: Vec<_> = (first..first + size as u64).into_par_iter().map(|i| simulate(preset, label, self.seed, i)).collect();
        Chunk::from_samples(&samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Operators;
    use burn::tensor::Device;

    #[test]
    fn batches_depend_on_seed_and_step_only_and_never_repeat() {
        let stream = SampleStream::training(Generator::named("mix", None).unwrap(), 7).unwrap();
        let a = stream.batch(5, 3);
        assert_eq!(a.index, vec![15, 16, 17], "batch k holds samples k·size … k·size + size − 1");
        assert_eq!(a.image, stream.batch(5, 3).image, "a batch is a pure function of (seed, step)");
        assert!(a.variant.iter().all(|v| *v == a.variant[0]), "one preset per batch: {:?}", a.variant);
        assert_ne!(stream.batch(6, 3).index, a.index);
        let validation = stream.validation();
        assert_ne!(validation.seed, stream.seed);
        assert_ne!(validation.batch(5, 3).image, a.image, "validation samples differ from training samples");
        // Over many steps the mix visits every variant.
        let mut seen: Vec<String> = (0..60).map(|k| stream.generator.member(stream.seed, k).0.clone()).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, ["v1", "v2", "v3", "v4", "v5", "v6"]);
        assert!(SampleStream::training(stream.generator.clone(), TEST_SET_SEED).is_err());
    }

    #[test]
    fn mixed_fields_of_view_get_their_own_operators() {
        // v5's source grid spans twice the field of the others: a batch
        // holding both is split into one group per operator.
        let v1 = Generator::named("v1", None).unwrap();
        let v5 = Generator::named("v5", None).unwrap();
        let samples = vec![v1.simulate(1, 0), v5.simulate(1, 0), v1.simulate(1, 1)];
        let chunk = Chunk::from_samples(&samples);
        let mut ops = Operators::new(96, 96, &Device::default());
        let groups = ops.groups(&chunk, &[0, 1, 2]);
        assert_eq!(groups.iter().map(|g| g.1.clone()).collect::<Vec<_>>(), vec![vec![0, 2], vec![1]]);
        let widths: Vec<f32> = groups.iter().map(|g| ops.get(g.0).source_half_width).collect();
        assert!((widths[0] - 0.5).abs() < 1e-6 && (widths[1] - 1.0).abs() < 1e-6, "{widths:?}");
    }
}
