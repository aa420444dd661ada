//! Integration tests: the real `loop` binary on temp copies of real workspaces and in real git
//! repositories. One test binary (not one per file), so a build links once.

mod clones;
mod common;

mod any_fix_plan;
mod attempt;
mod brief_lint;
mod cycle;
mod diffbragg_days;
mod everyday;
mod evidence;
mod guard;
mod history;
mod house;
mod init;
mod mcp;
mod merge;
mod model_server;
mod next;
mod nothing_lost;
mod orchestrate;
mod properties;
mod reading;
mod readme;
mod real_agents;
mod report;
mod resume;
mod sim;
mod snapshots;
mod status;
