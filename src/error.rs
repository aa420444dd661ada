//! The one error type of the library. Every variant that comes from user data names the file
//! (and the line when there is one); the binary maps variants to exit codes.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Bad input at a known place: `line` is 1-based, 0 when the whole file is meant.
    #[error("{}", located(file, *line, message))]
    Input { file: String, line: usize, message: String },
    /// The command line asked for something impossible.
    #[error("{0}")]
    Usage(String),
    /// The repository could not be read through git.
    #[error("git: {0}")]
    Git(String),
    /// The work itself said no: a closed gate, a failed run, a failing check. Exit 1.
    #[error("{0}")]
    Failed(String),
}

fn located(file: &str, line: usize, message: &str) -> String {
    match (file.is_empty(), line) {
        (true, _) => message.to_string(),
        (false, 0) => format!("{file}: {message}"),
        (false, n) => format!("{file}:{n}: {message}"),
    }
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub fn input(file: impl Into<String>, line: usize, message: impl Into<String>) -> Self {
        Error::Input { file: file.into(), line, message: message.into() }
    }

    /// What `--json` prints instead of a result: `{"error": {kind, message, file, line, exit_code}}`
    /// (docs/json.md), so an agent always gets one JSON document.
    pub fn to_json(&self) -> serde_json::Value {
        let (kind, file, line) = match self {
            Error::Io { path, .. } => ("io", Some(path.display().to_string()), None),
            Error::Input { file, line, .. } => {
                ("input", (!file.is_empty()).then(|| file.clone()), (*line > 0).then_some(*line))
            }
            Error::Usage(_) => ("usage", None, None),
            Error::Git(_) => ("git", None, None),
            Error::Failed(_) => ("failed", None, None),
        };
        serde_json::json!({"error": {
            "kind": kind, "message": self.to_string(), "file": file, "line": line, "exit_code": self.exit_code(),
        }})
    }

    /// 1 when the work failed, 2 when the input or the usage was bad (grep's convention; the
    /// whole table, turn outcomes included, is in `crate::outcome`).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Failed(_) => crate::outcome::EXIT_FAILED,
            _ => crate::outcome::EXIT_USAGE,
        }
    }
}

impl From<git2::Error> for Error {
    fn from(e: git2::Error) -> Self {
        Error::Git(e.message().to_string())
    }
}
