use std::process::ExitCode;

#[derive(clap::Args)]
pub struct RecommendArgs {}

#[derive(clap::Subcommand)]
pub enum ProfileCommand {
    /// (being written)
    Show,
}

pub fn run(_args: RecommendArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("recommend is not written yet")
}

pub fn run_profile(_cmd: ProfileCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("profile is not written yet")
}
