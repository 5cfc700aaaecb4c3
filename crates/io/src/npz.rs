//! NumPy `.npy` arrays inside `.npz` archives (uncompressed ZIP), readable by
//! `numpy.load` without this project. The .npy header is a 10-byte preamble
//! plus a Python-literal dict; it is written and parsed here because no
//! maintained crate pairs npz support with plain slices (ndarray-npy needs
//! ndarray), and the format is a dozen lines.

use crate::atomic::write_atomic;
use crate::IoError;
use std::io::{Read, Write};
use std::path::Path;

/// Element data of one array.
#[derive(Debug, Clone, Copy)]
pub enum NpyData<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
    U64(&'a [u64]),
    /// Fixed-width byte strings (`|S{width}`), one per element.
    Bytes {
        data: &'a [u8],
        width: usize,
    },
}

/// A named array to write.
#[derive(Debug, Clone)]
pub struct NpyArray<'a> {
    pub name: &'a str,
    pub shape: Vec<usize>,
    pub data: NpyData<'a>,
}

impl NpyData<'_> {
    fn descr(&self) -> String {
        match self {
            NpyData::F32(_) => "<f4".into(),
            NpyData::F64(_) => "<f8".into(),
            NpyData::U64(_) => "<u8".into(),
            NpyData::Bytes { width, .. } => format!("|S{width}"),
        }
    }

    fn len(&self) -> usize {
        match self {
            NpyData::F32(d) => d.len(),
            NpyData::F64(d) => d.len(),
            NpyData::U64(d) => d.len(),
            NpyData::Bytes { data, width } => data.len() / width,
        }
    }

    fn write_le(&self, out: &mut impl Write) -> std::io::Result<()> {
        match self {
            NpyData::F32(d) => d.iter().try_for_each(|v| out.write_all(&v.to_le_bytes())),
            NpyData::F64(d) => d.iter().try_for_each(|v| out.write_all(&v.to_le_bytes())),
            NpyData::U64(d) => d.iter().try_for_each(|v| out.write_all(&v.to_le_bytes())),
            NpyData::Bytes { data, .. } => out.write_all(data),
        }
    }
}

fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Pad so that the data starts on a 64-byte boundary; the header ends in '\n'.
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes the arrays as `name.npy` members of an uncompressed `.npz`, atomically.
pub fn write_npz(path: &Path, arrays: &[NpyArray]) -> Result<(), IoError> {
    for a in arrays {
        assert_eq!(a.shape.iter().product::<usize>(), a.data.len(), "array {} does not match its shape", a.name);
    }
    write_atomic(path, |tmp| {
        let file = std::fs::File::create(tmp).map_err(|e| IoError::file(path, format!("cannot create: {e}")))?;
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored).large_file(true);
        for a in arrays {
            let fail = |e: &dyn std::fmt::Display| IoError::file(path, format!("cannot write array {}: {e}", a.name));
            zip.start_file(format!("{}.npy", a.name), options).map_err(|e| fail(&e))?;
            zip.write_all(&header(&a.data.descr(), &a.shape)).map_err(|e| fail(&e))?;
            a.data.write_le(&mut zip).map_err(|e| fail(&e))?;
        }
        let mut inner = zip.finish().map_err(|e| IoError::file(path, format!("cannot finish the archive: {e}")))?;
        inner.flush().map_err(|e| IoError::file(path, format!("cannot write: {e}")))?;
        inner.get_ref().sync_all().map_err(|e| IoError::file(path, format!("cannot sync: {e}")))?;
        Ok(())
    })
}

/// An array read from an npz: its shape, dtype string and raw little-endian bytes.
#[derive(Debug, Clone)]
pub struct NpyOwned {
    pub shape: Vec<usize>,
    pub descr: String,
    pub bytes: Vec<u8>,
}

impl NpyOwned {
    /// The elements as f32 (from `<f4` or `<f8`).
    pub fn to_f32(&self) -> Option<Vec<f32>> {
        match self.descr.as_str() {
            "<f4" => Some(self.bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()),
            "<f8" => Some(self.bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32).collect()),
            _ => None,
        }
    }

    /// The elements as f64 (from `<f4` or `<f8`).
    pub fn to_f64(&self) -> Option<Vec<f64>> {
        match self.descr.as_str() {
            "<f4" => Some(self.bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64).collect()),
            "<f8" => Some(self.bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect()),
            _ => None,
        }
    }

    /// The elements of a fixed-width byte-string array (`|S<w>`) as strings,
    /// trailing NULs removed.
    pub fn to_strings(&self) -> Option<Vec<String>> {
        let width: usize = self.descr.strip_prefix("|S")?.parse().ok().filter(|&w| w > 0)?;
        self.bytes.chunks_exact(width).map(|b| String::from_utf8(b.iter().copied().take_while(|&c| c != 0).collect()).ok()).collect()
    }

    /// The elements as u64 (from `<u8`).
    pub fn to_u64(&self) -> Option<Vec<u64>> {
        (self.descr == "<u8").then(|| self.bytes.chunks_exact(8).map(|b| u64::from_le_bytes(b.try_into().unwrap())).collect())
    }
}

fn parse_header(text: &str) -> Option<(String, Vec<usize>)> {
    let descr_at = text.find("'descr':")? + 8;
    let d0 = text[descr_at..].find('\'')? + descr_at + 1;
    let d1 = text[d0..].find('\'')? + d0;
    if text.contains("'fortran_order': True") {
        return None;
    }
    let s0 = text.find("'shape':")? + 8;
    let p0 = text[s0..].find('(')? + s0 + 1;
    let p1 = text[p0..].find(')')? + p0;
    let shape = text[p0..p1].split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.parse().ok()).collect::<Option<Vec<usize>>>()?;
    Some((text[d0..d1].to_string(), shape))
}

fn element_size(descr: &str) -> Option<usize> {
    match descr {
        "<f4" => Some(4),
        "<f8" | "<u8" => Some(8),
        d if d.starts_with("|S") => d[2..].parse().ok(),
        _ => None,
    }
}

/// Reads one array (member `name.npy`) of an npz without loading the others.
pub fn read_npz_array(path: &Path, name: &str) -> Result<NpyOwned, IoError> {
    let file = std::fs::File::open(path).map_err(|e| IoError::file(path, format!("cannot open: {e}")))?;
    let mut zip =
        zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| IoError::file(path, format!("not a valid npz archive ({e})")))?;
    let mut member = zip.by_name(&format!("{name}.npy")).map_err(|_| IoError::file(path, format!("has no array named {name}")))?;
    let mut raw = Vec::with_capacity(member.size() as usize);
    member.read_to_end(&mut raw).map_err(|e| IoError::file(path, format!("array {name} is unreadable ({e})")))?;
    let bad = |m: &str| IoError::file(path, format!("array {name}: {m}"));
    if raw.len() < 10 || &raw[..6] != b"\x93NUMPY" {
        return Err(bad("not an .npy member"));
    }
    let (header_len, start) = match raw[6] {
        1 => (u16::from_le_bytes([raw[8], raw[9]]) as usize, 10),
        2 | 3 if raw.len() >= 12 => (u32::from_le_bytes([raw[8], raw[9], raw[10], raw[11]]) as usize, 12),
        _ => return Err(bad("unsupported .npy version")),
    };
    let text = std::str::from_utf8(raw.get(start..start + header_len).ok_or_else(|| bad("truncated header"))?)
        .map_err(|_| bad("header is not text"))?;
    let (descr, shape) = parse_header(text).ok_or_else(|| bad("unsupported header (need C order and a known dtype)"))?;
    let size = element_size(&descr).ok_or_else(|| bad(&format!("unsupported dtype {descr}")))?;
    let bytes = raw[start + header_len..].to_vec();
    if bytes.len() != shape.iter().product::<usize>() * size {
        return Err(bad(&format!("holds {} bytes, its shape {shape:?} needs {}", bytes.len(), shape.iter().product::<usize>() * size)));
    }
    Ok(NpyOwned { shape, descr, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_arrays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npz");
        let image: Vec<f32> = (0..24).map(|k| k as f32 * 0.5).collect();
        let scale = [0.04f64, 0.2];
        let names = b"v1\0\0v3\0\0";
        write_npz(
            &path,
            &[
                NpyArray { name: "image", shape: vec![2, 3, 4], data: NpyData::F32(&image) },
                NpyArray { name: "pixel_scale", shape: vec![2], data: NpyData::F64(&scale) },
                NpyArray { name: "variant", shape: vec![2], data: NpyData::Bytes { data: names, width: 4 } },
            ],
        )
        .unwrap();
        let a = read_npz_array(&path, "image").unwrap();
        assert_eq!(a.shape, vec![2, 3, 4]);
        assert_eq!(a.to_f32().unwrap(), image);
        assert_eq!(read_npz_array(&path, "pixel_scale").unwrap().to_f64().unwrap(), scale);
        assert!(read_npz_array(&path, "nope").unwrap_err().to_string().contains("nope"));
        let raw = std::fs::read(&path).unwrap();
        std::fs::write(&path, &raw[..raw.len() / 2]).unwrap();
        assert!(read_npz_array(&path, "image").is_err());
    }

    #[test]
    fn header_is_aligned_and_parses() {
        let h = header("<f4", &[7]);
        assert_eq!(h.len() % 64, 0);
        let (d, s) = parse_header(std::str::from_utf8(&h[10..]).unwrap()).unwrap();
        assert_eq!((d.as_str(), s), ("<f4", vec![7]));
    }
}
