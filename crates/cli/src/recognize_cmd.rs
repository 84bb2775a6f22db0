use std::process::ExitCode;

#[derive(clap::Args)]
pub struct RecognizeArgs {}

pub fn run(_args: RecognizeArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("recognize is not written yet")
}
