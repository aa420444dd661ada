//! Where the library's live output goes: what a program loop runs prints as it runs (a step,
//! an agent, a check) and loop's own running notes. The library writes nothing to stdout or
//! stderr itself; each front end chooses (the CLI its terminal, `loop mcp` stderr only, since
//! its stdout carries the protocol).

use std::sync::Arc;

pub trait Progress: Send + Sync {
    /// Bytes a program loop runs printed; `stderr` when it printed them on its stderr.
    fn output(&self, bytes: &[u8], stderr: bool);
    /// A note of loop's own, one line with its newline.
    fn say(&self, line: &str);
    /// A turn's journal reached `phase` on disk: what comes before it is never done again,
    /// whatever happens to this process from here on.
    fn journaled(&self, _turn: &str, _phase: &str) {}
}

/// A shareable sink, for threads that copy a program's output.
pub type Sink = Arc<dyn Progress>;

/// Shows nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn output(&self, _: &[u8], _: bool) {}
    fn say(&self, _: &str) {}
}

pub fn quiet() -> Sink {
    Arc::new(Quiet)
}
