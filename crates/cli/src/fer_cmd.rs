use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum FerCommand {
    /// (being written)
    Eval,
}

pub fn run(_cmd: FerCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("fer is not written yet")
}
