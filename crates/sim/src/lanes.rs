//! The simulator's SIMD width, and loading and storing slices `LANES`
//! `f32` at a time, with a partial last chunk: missing lanes load as zero
//! and are not stored.

/// The vector type of the simulator's hot loops (`wide` lowers it to
/// AVX-512, AVX2 or SSE, whichever the build target has).
pub type Lanes = wide::f32x16;
/// The integer vector of the same width.
pub type I32Lanes = wide::i32x16;
/// Lanes per [`Lanes`].
pub const LANES: usize = 16;

/// Lanes `start..start + LANES` of `s`, zero beyond its end.
#[inline]
pub fn load(s: &[f32], start: usize) -> Lanes {
    match s.get(start..start + LANES) {
        Some(chunk) => Lanes::from(<[f32; LANES]>::try_from(chunk).expect("LANES lanes")),
        None => {
            let mut lanes = [0f32; LANES];
            let rest = &s[start..];
            lanes[..rest.len()].copy_from_slice(rest);
            Lanes::from(lanes)
        }
    }
}

/// Writes the lanes of `v` that fall inside `out` from `start` on.
#[inline]
pub fn store(v: Lanes, out: &mut [f32], start: usize) {
    let len = (out.len() - start).min(LANES);
    out[start..start + len].copy_from_slice(&v.to_array()[..len]);
}

/// `table[index[l]]` in every lane; panics if an index is outside the table.
/// With AVX-512 this is one hardware gather instead of `LANES` scalar loads
/// (the bilinear source lookup and the Sérsic tables are gather-bound).
#[inline]
pub fn gather(table: &[f32], index: [i32; LANES]) -> Lanes {
    assert!(table.len() <= i32::MAX as usize && index.iter().all(|&i| (i as u32 as usize) < table.len()), "gather index outside the table");
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    if LANES == 16 {
        use std::arch::x86_64::{_mm512_i32gather_ps, _mm512_loadu_si512, _mm512_storeu_ps};
        let mut out = [0f32; LANES];
        // SAFETY: the target has AVX-512F (cfg above), and every index was
        // just checked to address an element of `table`; the unaligned load
        // and store touch exactly the LANES elements of `index` and `out`.
        unsafe {
            let offsets = _mm512_loadu_si512(index.as_ptr() as *const _);
            let values = _mm512_i32gather_ps::<4>(offsets, table.as_ptr() as *const _);
            _mm512_storeu_ps(out.as_mut_ptr(), values);
        }
        return Lanes::from(out);
    }
    Lanes::from(std::array::from_fn::<f32, LANES, _>(|l| table[index[l] as usize]))
}
