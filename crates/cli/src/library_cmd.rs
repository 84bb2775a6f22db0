use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum LibraryCommand {
    /// (being written)
    List,
}

pub fn run(_cmd: LibraryCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("library is not written yet")
}
