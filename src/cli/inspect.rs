//! `tamperwatch inspect`: every HTTP transaction of capture files as JSON lines, for
//! forensic use on a capture the operator owns (it ignores `privacy:`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use tamperwatch::pipeline::PipelineSettings;
use tamperwatch::replay;
use tamperwatch::sink::inspect::InspectLog;

/// The flags of `inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// pcap or pcapng files, processed in order as one capture.
    #[arg(required = true)]
    pcaps: Vec<PathBuf>,
}

/// Runs `inspect`; a closed stdout (`| head`) ends it quietly.
pub fn run(args: &InspectArgs) -> anyhow::Result<()> {
    let mut sources = replay::open_all(&args.pcaps)?;
    let stdout = std::io::stdout().lock();
    let mut log = InspectLog::new(std::io::BufWriter::new(stdout));
    replay::replay(
        &mut sources,
        PipelineSettings::default(),
        &mut log,
        &mut |_| {},
    )?;
    match log.finish() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing transactions to stdout"),
    }
}
