//! `loop mcp`: its arguments. The server is the binary's other front end (`crate::mcp`), which
//! `main` starts directly: neither front end calls the other.

use clap::Args;

#[derive(Debug, Args)]
pub struct McpArgs {
    /// Enable the `run` tool, which runs the next step's command (off by default).
    #[arg(long)]
    pub allow_run: bool,
}
