//! Robustness on hostile input: real frames from the bundled captures, mutated at
//! random (fixed seed, bounded count), go through the whole pipeline with detection.
//! The test passes if nothing panics and every counter stays consistent; a panic here
//! is a bug that a crafted packet could trigger on the live host.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tamperwatch::capture::{FileSource, Frame, PacketSource};
use tamperwatch::config::Config;
use tamperwatch::detect::threshold::ThresholdTable;
use tamperwatch::detect::Detector;
use tamperwatch::pipeline::{DetectionStage, Pipeline, PipelineSettings};

/// Mutated copies made of each original frame.
const MUTANTS_PER_FRAME: usize = 16;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn captures() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut all = Vec::new();
    for dir in ["http", "attacks", "tcp", "evasion"] {
        for e in std::fs::read_dir(root.join(dir))
            .expect("dir")
            .filter_map(Result::ok)
        {
            if e.path().extension().is_some_and(|x| x == "pcap")
                && e.metadata().map(|m| m.len() < 200_000).unwrap_or(false)
            {
                all.push(e.path());
            }
        }
    }
    all.sort();
    all
}

#[test]
fn mutated_real_frames_never_panic_the_pipeline() {
    let config = Config::default();
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let detector =
        Detector::load(&rules, &config, Arc::new(ThresholdTable::default())).expect("rules");
    let mut stage = DetectionStage::new(&detector, Vec::new());
    let mut pipeline = Pipeline::new(PipelineSettings::default());
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut frames = 0u64;
    for path in captures() {
        let mut source = FileSource::open(&path).expect("capture");
        let link = source.link_type();
        while let Some(frame) = source.next_frame().expect("frame") {
            let original = frame.data.to_vec();
            let ts = frame.ts;
            for _ in 0..MUTANTS_PER_FRAME {
                let mut bytes = original.clone();
                match rng.below(4) {
                    0 => {
                        // Flip a few bytes anywhere (headers included).
                        for _ in 0..1 + rng.below(4) {
                            let i = rng.below(bytes.len());
                            if let Some(b) = bytes.get_mut(i) {
                                *b ^= (rng.next() & 0xFF) as u8 | 1;
                            }
                        }
                    }
                    1 => bytes.truncate(rng.below(bytes.len() + 1)),
                    2 => {
                        // Splice in random junk.
                        let at = rng.below(bytes.len() + 1);
                        let junk: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                        bytes.splice(at..at, junk);
                    }
                    _ => {
                        // Overwrite a 16-bit length-like field with an extreme value.
                        let i = rng.below(bytes.len().saturating_sub(1));
                        if i + 1 < bytes.len() {
                            let v = [0u16, 1, 0x7FFF, 0xFFFF][rng.below(4)].to_be_bytes();
                            bytes[i] = v[0];
                            bytes[i + 1] = v[1];
                        }
                    }
                }
                let mutant = Frame {
                    ts,
                    data: &bytes,
                    wire_len: bytes.len() as u32,
                };
                pipeline.process_frame(link, &mutant, &mut stage);
                frames += 1;
            }
            let intact = Frame {
                ts,
                data: &original,
                wire_len: original.len() as u32,
            };
            pipeline.process_frame(link, &intact, &mut stage);
            frames += 1;
        }
    }
    pipeline.finish(&mut stage);
    assert_eq!(pipeline.summary.packets, frames);
    assert!(frames > 10_000, "too few frames exercised: {frames}");
    println!(
        "{frames} frames ({MUTANTS_PER_FRAME} mutants per real frame), {} transactions",
        pipeline.summary.transactions
    );
}
