//! Helpers shared by the connector-file tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// Every file under `dir`, as (path relative to `dir`, hidden name).
pub fn files(dir: &Path) -> Vec<(PathBuf, bool)> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let hidden = path.file_name().unwrap().to_string_lossy().starts_with('.');
                out.push((path.strip_prefix(dir).unwrap().to_path_buf(), hidden));
            }
        }
    }
    out
}

/// `text` compressed as the extension of `name` says (`.gz`, `.zst`, else plain).
pub fn encode_as(name: &str, text: &str) -> Vec<u8> {
    if name.ends_with(".gz") {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        gz.finish().unwrap()
    } else if name.ends_with(".zst") {
        zstd::encode_all(text.as_bytes(), 1).unwrap()
    } else {
        text.as_bytes().to_vec()
    }
}

/// The lines `record-<id>` of `ids`, each ended by a newline.
pub fn record_lines(ids: &[u64]) -> String {
    ids.iter().map(|id| format!("record-{id}\n")).collect()
}

/// The files of the `n`th batch of a source suite and the ids each holds: two plain
/// files, a gzip and a zstd one, and one in a sub-directory, as (name, file bytes).
pub fn mixed_files(n: usize, ids: &[u64]) -> Vec<(String, Vec<u8>)> {
    let names = [
        format!("part-{n}-a.txt"),
        format!("part-{n}-b.txt"),
        format!("part-{n}-c.txt.gz"),
        format!("part-{n}-d.txt.zst"),
        format!("sub/part-{n}-e.txt"),
    ];
    let chunk = ids.len().div_ceil(names.len()).max(1);
    names
        .into_iter()
        .zip(ids.chunks(chunk))
        .map(|(name, ids)| {
            let bytes = encode_as(&name, &record_lines(ids));
            (name, bytes)
        })
        .collect()
}
