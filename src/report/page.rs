//! The report as one self-contained HTML file: the data embedded as JSON, drawn by the page's
//! own small script (no library, no network when it is opened).

use std::path::{Path, PathBuf};

use super::Report;
use crate::error::{Error, Result};
use crate::workspace::Workspace;

const TEMPLATE: &str = include_str!("../../templates/report.html");
const SLOT: &str = "/*LOOP_REPORT_DATA*/";

/// The page. Every `<` in the data is written `\u003c`, so nothing in it can end the script.
pub fn html(r: &Report) -> String {
    let json = serde_json::to_string(r).unwrap_or_default().replace('<', "\\u003c");
    TEMPLATE.replacen(SLOT, &json, 1)
}

/// Write the page (default `<reports dir>/loop-report.html`) atomically, its links relative to
/// where it lands; the path written.
pub fn write(ws: &Workspace, r: &mut Report, out: Option<&Path>) -> Result<PathBuf> {
    let path = match out {
        Some(p) if p.is_absolute() => p.to_path_buf(),
        Some(p) => std::env::current_dir().map_err(|e| Error::io(".", e))?.join(p),
        None => ws.path(&ws.config.reports.dir).join("loop-report.html"),
    };
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    r.root_href = href_to(&dir, &ws.root);
    crate::atomic::write(&path, html(r).as_bytes())?;
    Ok(path)
}

/// `root` as a link from a page in `dir`: `../../` when the page sits inside it, else a
/// `file://` address.
fn href_to(dir: &Path, root: &Path) -> String {
    let (Ok(d), Ok(r)) = (std::fs::canonicalize(dir), std::fs::canonicalize(root)) else { return String::new() };
    match d.strip_prefix(&r) {
        Ok(inside) => "../".repeat(inside.components().count()),
        Err(_) => format!("file://{}/", r.display()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_reach_the_root_from_the_page() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("reports/x");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(super::href_to(&deep, root.path()), "../../");
        assert_eq!(super::href_to(root.path(), root.path()), "");
        let elsewhere = tempfile::tempdir().unwrap();
        assert!(super::href_to(elsewhere.path(), root.path()).starts_with("file:///"));
    }

    #[test]
    fn the_template_has_one_data_slot() {
        assert_eq!(super::TEMPLATE.matches(super::SLOT).count(), 1);
    }
}
