//! Things a parser could not understand: reported with file and line, never fatal to parsing.

use std::ops::Range;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub message: String,
    pub severity: Severity,
    /// The bytes the problem makes unreadable (a table, everything after an unclosed fence, an
    /// item heading's section); commands that need those bytes refuse with this diagnostic.
    #[serde(skip)]
    pub range: Option<Range<usize>>,
}

impl Diagnostic {
    pub fn error(file: &str, line: usize, message: impl Into<String>) -> Self {
        Diagnostic { file: file.to_string(), line, message: message.into(), severity: Severity::Error, range: None }
    }

    /// The same diagnostic, covering these bytes.
    pub fn over(mut self, range: Range<usize>) -> Self {
        self.range = Some(range);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    pub fn warning(file: &str, line: usize, message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(file, line, message) }
    }
}

/// Whether any of these is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_error)
}

/// The first error whose bytes overlap `range` (or that covers no particular bytes and so may
/// touch any), as the error a command that needs those bytes reports.
pub fn error_within<'d>(
    diags: impl IntoIterator<Item = &'d Diagnostic>,
    range: &Range<usize>,
) -> Option<&'d Diagnostic> {
    diags
        .into_iter()
        .find(|d| d.is_error() && d.range.as_ref().is_none_or(|r| r.start < range.end && range.start < r.end))
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}: {}", self.file, self.line, self.severity, self.message)
    }
}
