//! Reading workspace files: text must be UTF-8, and a file that is not says where it stops being so.

use std::path::Path;

use crate::error::{Error, Result};

/// Read a file as UTF-8, naming the line of the first bad byte when it is not.
pub fn read_utf8(path: &Path, shown: &str) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = 1 + bytes[..good].iter().filter(|&&b| b == b'\n').count();
        let col = good - bytes[..good].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
        Error::input(shown, line, format!("not valid UTF-8 (byte {good}, column {col}); save the file as UTF-8"))
    })
}
