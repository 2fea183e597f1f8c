//! `trainer`: the native CLI around flowlens-core.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod flows_cmd;

#[derive(Parser)]
#[command(
    name = "trainer",
    version,
    about = "flowlens: flows, datasets, training, reports"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read captures and print their flows.
    Flows(flows_cmd::FlowsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Flows(args) => flows_cmd::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
