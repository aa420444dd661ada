//! The README's walk through one cycle is what a newcomer sees: every `$ …` command in its
//! output blocks is run in order on a git copy of the embedded workspace, and every line the
//! README shows under it must be a line of what the command printed (timings aside).

use std::path::Path;

use crate::common::*;

/// `(command, lines shown under it)` for each `$ ` line of the README's plain code blocks (those
/// opened by a bare fence and starting with a `$ ` line; a picture or a `sh` block is no walk).
fn shown_commands(readme: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut block: Option<Vec<&str>> = None;
    for line in readme.lines() {
        match (&mut block, line.starts_with("```")) {
            (None, true) if line == "```" => block = Some(Vec::new()),
            (None, true) => block = Some(vec!["(not a walk)"]),
            (Some(lines), true) => {
                if lines.first().is_some_and(|l| l.starts_with("$ ")) {
                    for l in lines.iter() {
                        match l.strip_prefix("$ ") {
                            Some(command) => out.push((command.to_string(), Vec::new())),
                            None => out.last_mut().unwrap().1.push(l.to_string()),
                        }
                    }
                }
                block = None;
            }
            (Some(lines), false) => lines.push(line),
            (None, false) => {}
        }
    }
    out
}

/// Durations differ from run to run.
fn timeless(line: &str) -> String {
    regex::Regex::new(r"\d+\.\d+ s\b").unwrap().replace_all(line.trim_end(), "N s").into_owned()
}

fn shell(root: &Path, command: &str) -> String {
    let bin = assert_cmd::cargo::cargo_bin("loop");
    let path = format!("{}:{}", bin.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let o = std::process::Command::new("bash")
        .args(["-c", command])
        .current_dir(root)
        .env("PATH", path)
        .env("LOOP_NOW", "2026-12-06T12:00:00Z")
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", root)
        .output()
        .unwrap();
    format!("{}{}", stdout(&o), stderr(&o))
}

#[test]
fn the_readme_walk_prints_what_the_readme_shows() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let walk = shown_commands(&readme);
    let commands: Vec<&str> = walk.iter().map(|(c, _)| c.as_str()).collect();
    assert!(commands.len() >= 5, "{commands:?}");
    assert!(commands.iter().any(|c| c.contains("loop attempt")) && commands.iter().any(|c| c.contains("loop guard")));

    let d = embedded_workspace();
    let root = d.path();
    std::fs::copy(repo_root().join(".gitignore"), root.join(".gitignore")).unwrap();
    git_ok(root, &["init", "-q", "-b", "main"]);
    git_ok(root, &["add", "-A"]);
    git_ok(root, &["commit", "-qm", "workspace"]);
    let mut missing = Vec::new();
    for (command, shown) in &walk {
        let printed: Vec<String> = shell(root, command).lines().map(timeless).collect();
        for line in shown {
            if !printed.contains(&timeless(line)) {
                missing.push(format!("$ {command}\n  README: {line}\n  printed:\n    {}", printed.join("\n    ")));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
