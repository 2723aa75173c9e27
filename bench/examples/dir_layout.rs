//! Would sharding the file store's directory keep its load latency flat
//! from 10,000 to 1,000,000 sessions? This measures the lookup the store
//! does per `load` (`symlink_metadata`, then `read` of a 1 KiB file) on
//! uniformly random names, in one flat directory and in 256
//! subdirectories by the name's first two characters, at both sizes.
//!
//! ```text
//! cargo run -p session-bench --release --example dir_layout -- 1000000 flat
//! cargo run -p session-bench --release --example dir_layout -- 1000000 sharded
//! ```
//!
//! The files are written once under the temp dir
//! (`session-bench-dir-layout-N-LAYOUT`) and kept for the next run; remove
//! them by hand (a million files take about 4 GiB of disk).

use std::path::{Path, PathBuf};
use std::time::Instant;

type Error = Box<dyn std::error::Error>;

/// A name that looks like a session file's, spread uniformly.
fn name(i: usize) -> String {
    let mixed = u128::try_from(i)
        .unwrap_or(u128::MAX)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
    format!("{mixed:032x}")
}

fn path(base: &Path, sharded: bool, i: usize) -> PathBuf {
    let name = name(i);
    let file = format!("session-{name}");
    match name.get(..2) {
        Some(shard) if sharded => base.join(shard).join(file),
        _ => base.join(file),
    }
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: dir_layout FILES flat|sharded";
    let files: usize = args.next().ok_or(usage)?.parse()?;
    let sharded = match args.next().as_deref() {
        Some("flat") => false,
        Some("sharded") => true,
        _ => return Err(usage.into()),
    };
    if files == 0 {
        return Err(usage.into());
    }
    let layout = if sharded { "sharded" } else { "flat" };
    let base = std::env::temp_dir().join(format!("session-bench-dir-layout-{files}-{layout}"));
    if !base.exists() {
        std::fs::create_dir_all(&base)?;
        if sharded {
            for shard in 0..256 {
                std::fs::create_dir_all(base.join(format!("{shard:02x}")))?;
            }
        }
        let started = Instant::now();
        for i in 0..files {
            std::fs::write(path(&base, sharded, i), [b'x'; 1024])?;
        }
        eprintln!("wrote {files} files in {:.1?}", started.elapsed());
    }
    let mut latencies = Vec::with_capacity(1_000_000);
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..1_000_000 {
        // xorshift: uniform over the files, the same sequence every run.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = usize::try_from(x % files as u64)?;
        let started = Instant::now();
        let file = path(&base, sharded, i);
        std::fs::symlink_metadata(&file)?;
        std::fs::read(&file)?;
        latencies.push(started.elapsed().as_nanos());
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        let index = ((latencies.len() as f64) * q) as usize;
        latencies
            .get(index.min(latencies.len() - 1))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "{files} files, {layout}: p50 {} ns, p99 {} ns, p99.9 {} ns",
        at(0.5),
        at(0.99),
        at(0.999)
    );
    Ok(())
}
