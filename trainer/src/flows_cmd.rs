//! `trainer flows FILE... [--json]`: the flows of captures, one per line.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use flowlens_core::{Analyzer, Flow, FlowConfig, Summary};
use serde::Serialize;

#[derive(clap::Args)]
pub struct FlowsArgs {
    /// pcap or pcapng files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// One JSON object per flow and a final summary object.
    #[arg(long)]
    json: bool,
    /// Idle timeout in seconds that ends a flow.
    #[arg(long, default_value_t = 120.0)]
    idle_timeout_secs: f64,
}

#[derive(Serialize)]
struct FlowLine<'a> {
    file: &'a str,
    proto: String,
    src: String,
    sport: u16,
    dst: String,
    dport: u16,
    packets: u64,
    bytes: u64,
    first_ts: f64,
    last_ts: f64,
}

#[derive(Serialize)]
struct SummaryLine {
    summary: SummaryBody,
}

#[derive(Serialize)]
struct SummaryBody {
    packets: u64,
    flows: u64,
    skipped: BTreeMap<String, u64>,
}

const CHUNK: usize = 4 << 20;

pub fn run(args: &FlowsArgs) -> anyhow::Result<ExitCode> {
    let cfg = FlowConfig {
        idle_timeout_ns: (args.idle_timeout_secs * 1e9) as u64,
        ..FlowConfig::default()
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut total = Summary::default();
    let mut failed = false;
    for path in &args.files {
        let name = path.display().to_string();
        let mut file = File::open(path).with_context(|| format!("cannot open {name}"))?;
        let mut analyzer = Analyzer::new(cfg);
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = file
                .read(&mut buf)
                .with_context(|| format!("cannot read {name}"))?;
            if n == 0 || analyzer.feed(&buf[..n]).is_err() {
                break;
            }
        }
        let analysis = analyzer.finish();
        for flow in &analysis.flows {
            write_flow(&mut out, &name, flow, args.json)?;
        }
        merge(&mut total, &analysis.summary);
        if let Some(e) = analysis.error {
            failed = true;
            out.flush()?;
            eprintln!("error: {name}: {e}");
        }
    }
    if args.json {
        let s = SummaryLine {
            summary: SummaryBody {
                packets: total.packets,
                flows: total.flows,
                skipped: total.skipped,
            },
        };
        serde_json::to_writer(&mut out, &s)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{} packets, {} flows, skipped {:?}",
            total.packets, total.flows, total.skipped
        )?;
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_flow(out: &mut impl Write, file: &str, f: &Flow, json: bool) -> anyhow::Result<()> {
    let line = FlowLine {
        file,
        proto: f.key.proto_name(),
        src: f.key.src.to_string(),
        sport: f.key.sport,
        dst: f.key.dst.to_string(),
        dport: f.key.dport,
        packets: f.total_packets(),
        bytes: f.total_bytes(),
        first_ts: f.first_ts_ns as f64 / 1e9,
        last_ts: f.last_ts_ns as f64 / 1e9,
    };
    if json {
        serde_json::to_writer(&mut *out, &line)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{} {}:{} -> {}:{} {} pkts {} bytes",
            line.proto, line.src, line.sport, line.dst, line.dport, line.packets, line.bytes
        )?;
    }
    Ok(())
}

fn merge(total: &mut Summary, s: &Summary) {
    total.packets += s.packets;
    total.flows += s.flows;
    for (k, v) in &s.skipped {
        *total.skipped.entry(k.clone()).or_insert(0) += v;
    }
}
