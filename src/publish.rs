//! Which run artifacts may enter git: `reports:` in loop.yaml. One policy for the guard (what a
//! commit may stage) and for a turn's publisher (what `loop turn` stages), so the two never
//! disagree. `refuse` keeps every report out (the default); `publish` lets small files of the
//! listed kinds in, never what .gitignore ignores, never environments, caches or logs.

use serde::{Deserialize, Serialize};

named_enum!(
    /// Whether reports may be committed.
    Policy {
        Refuse = "refuse",
        Publish = "publish",
    }
);

/// `reports:` — the folder alone (`reports: reports`), or a mapping with the policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "serde_yaml_ng::Value")]
pub struct Reports {
    /// Where run artifacts go, relative to the root.
    pub dir: String,
    pub policy: Policy,
    /// File kinds `publish` lets in, by extension without the dot.
    pub extensions: Vec<String>,
    /// Largest report file `publish` lets in, in bytes.
    pub max_file_bytes: u64,
    /// Most report bytes one commit (one turn) may add.
    pub max_turn_bytes: u64,
    /// Whether loop.yaml states the policy (a refusal then cites it; else it is the default).
    #[serde(skip)]
    pub stated: bool,
}

impl Default for Reports {
    fn default() -> Self {
        Reports {
            dir: "reports".into(),
            policy: Policy::Refuse,
            extensions: ["md", "json", "txt", "csv", "png", "svg"].map(String::from).to_vec(),
            max_file_bytes: 1_000_000,
            max_turn_bytes: 5_000_000,
            stated: false,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Mapping {
    dir: Option<String>,
    policy: Option<String>,
    extensions: Option<Vec<String>>,
    max_file_bytes: Option<u64>,
    max_turn_bytes: Option<u64>,
}

impl TryFrom<serde_yaml_ng::Value> for Reports {
    type Error = String;
    fn try_from(v: serde_yaml_ng::Value) -> Result<Self, String> {
        let d = Reports::default();
        if let Some(dir) = v.as_str() {
            return Ok(Reports { dir: dir.to_string(), ..d });
        }
        let m: Mapping = serde_yaml_ng::from_value(v).map_err(|e| {
            format!("reports: expected a folder or {{dir, policy, extensions, max_file_bytes, max_turn_bytes}}: {e}")
        })?;
        let policy = match m.policy.as_deref() {
            None => Policy::Refuse,
            Some(p) => p.parse().map_err(|e| format!("reports.policy {e}"))?,
        };
        Ok(Reports {
            dir: m.dir.unwrap_or(d.dir),
            policy,
            extensions: m
                .extensions
                .map(|x| x.into_iter().map(|e| e.trim_start_matches('.').to_ascii_lowercase()).collect())
                .unwrap_or(d.extensions),
            max_file_bytes: m.max_file_bytes.unwrap_or(d.max_file_bytes),
            max_turn_bytes: m.max_turn_bytes.unwrap_or(d.max_turn_bytes),
            stated: m.policy.is_some(),
        })
    }
}

/// Folders never committed, whatever the policy: environments, caches, build output, logs.
const JUNK_DIRS: &[&str] = &[
    ".venv",
    "venv",
    "site-packages",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".cache",
    ".tox",
    "node_modules",
    "conda-meta",
    "logs",
    "tmp",
];

/// Why `rel` is never committed by a turn (an environment, a cache, a log), if it is not.
pub fn junk(rel: &str) -> Option<String> {
    let parts: Vec<&str> = rel.split('/').collect();
    for dir in &parts[..parts.len().saturating_sub(1)] {
        if JUNK_DIRS.contains(dir) || dir.ends_with(".egg-info") {
            return Some(format!("inside `{dir}/` (environments, caches and logs stay out of git)"));
        }
    }
    let name = parts.last().copied().unwrap_or("");
    if name == "pyvenv.cfg" {
        return Some("a virtual environment".into());
    }
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    matches!(ext.as_str(), "log" | "pyc" | "pyo").then(|| format!("a .{ext} file (logs and bytecode stay out of git)"))
}

/// A folder that is a whole environment (a venv or a conda env): skipped as one.
pub fn is_environment(dir: &std::path::Path) -> bool {
    dir.join("pyvenv.cfg").is_file() || dir.join("conda-meta").is_dir()
}

impl Reports {
    /// Whether `rel` (relative to the workspace root) lies in the reports folder.
    pub fn contains(&self, rel: &str) -> bool {
        let dir = self.dir.trim_matches('/');
        rel.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
    }

    /// Whether a report file of `size` bytes may be committed, and why not.
    pub fn admits(&self, rel: &str, size: u64) -> Result<(), String> {
        let dir = self.dir.trim_matches('/');
        if self.policy == Policy::Refuse {
            let whose = match self.stated {
                true => "loop.yaml `reports:` policy refuse",
                false => "the default `reports:` policy, refuse",
            };
            return Err(format!("run artifacts under {dir}/ stay out of git ({whose})"));
        }
        if let Some(why) = junk(rel) {
            return Err(why);
        }
        let ext = rel.rsplit('/').next().and_then(|n| n.rsplit_once('.')).map(|(_, e)| e.to_ascii_lowercase());
        if !ext.as_ref().is_some_and(|e| self.extensions.contains(e)) {
            return Err(format!(
                "not a kind `reports.extensions` publishes ({})",
                self.extensions.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(", ")
            ));
        }
        if size > self.max_file_bytes {
            return Err(format!("{size} bytes is over `reports.max_file_bytes` ({})", self.max_file_bytes));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_or_a_mapping() {
        let r: Reports = serde_yaml_ng::from_str("out").unwrap();
        assert_eq!((r.dir.as_str(), r.policy), ("out", Policy::Refuse));
        let r: Reports =
            serde_yaml_ng::from_str("{policy: publish, extensions: [.md, JSON], max_file_bytes: 10}").unwrap();
        assert_eq!(
            (r.dir.as_str(), r.policy, r.extensions.clone()),
            ("reports", Policy::Publish, vec!["md".into(), "json".into()])
        );
        assert!(r.admits("reports/a/summary.md", 10).is_ok());
        assert!(r.admits("reports/a/summary.md", 11).unwrap_err().contains("max_file_bytes"));
        assert!(r.admits("reports/a/x.bin", 1).unwrap_err().contains(".md, .json"));
        assert!(r.admits("reports/a/.venv/x.json", 1).unwrap_err().contains(".venv"));
        assert!(serde_yaml_ng::from_str::<Reports>("{policy: upload}").unwrap_err().to_string().contains("publish"));
        assert!(serde_yaml_ng::from_str::<Reports>("{polcy: publish}").unwrap_err().to_string().contains("polcy"));
    }

    #[test]
    fn environments_caches_and_logs_are_junk() {
        for p in [".venv/lib/x.py", "a/site-packages/b.py", "logs/engineer/iter-1.log", "x.log", "p.egg-info/PKG-INFO"]
        {
            assert!(junk(p).is_some(), "{p}");
        }
        for p in ["src/lib.rs", "docs/fix_plan.md", "reports/a/metrics.json"] {
            assert!(junk(p).is_none(), "{p}");
        }
        let r = Reports::default();
        assert!(r.contains("reports/x") && !r.contains("reportsx/y") && !r.contains("reports"));
    }
}
