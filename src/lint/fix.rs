//! `loop lint --fix`: the mechanical findings repaired by byte splices — an Index status set to
//! its section's, a missing Index row added — in one atomic write.

use std::ops::Range;

use super::{Finding, Report};
use crate::error::Result;
use crate::ledger::status_word;
use crate::markdown::splice;
use crate::model::Model;

/// Apply the fixable findings to the ledger in one atomic write. Returns how many were fixed.
pub fn fix(model: &Model, report: &Report) -> Result<usize> {
    let l = &model.ledger;
    let doc = &l.doc;
    model.protected.check_writable(&doc.file)?;
    // A ledger loop cannot read whole is not fixed in part: exit 2 means nothing was written.
    if let Some(d) = l.diagnostics.iter().find(|d| d.is_error()) {
        return Err(crate::error::Error::input(
            &d.file,
            d.line,
            format!("{}; --fix writes nothing until this is fixed by hand", d.message),
        ));
    }
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut fixed = 0;
    for f in report.findings.iter().filter(|f| f.fixable && f.code == "index-status") {
        let Some(row) = l.index.iter().find(|r| r.line == f.line) else { continue };
        let found = l.find(&row.id);
        let (Some(range), Some(item)) = (&row.status_range, found.first()) else { continue };
        if let Some(status) = item.status() {
            edits.push((range.clone(), status_word(status)));
            fixed += 1;
        }
    }
    let missing: Vec<&Finding> =
        report.findings.iter().filter(|f| f.fixable && f.code == "section-without-index").collect();
    if let (false, Some(table)) = (missing.is_empty(), index_table(model)) {
        let nl = doc.newline();
        let header: Vec<String> = table.header.cells.iter().map(|c| doc.slice(c).trim().to_ascii_lowercase()).collect();
        let last = table.rows.last().map_or(table.header.line + 1, |r| r.line);
        let at = doc.line_start(last + 1);
        let mut text = String::new();
        if at == doc.text.len() && !doc.text.ends_with(['\n', '\r']) {
            text.push_str(nl);
        }
        for f in missing {
            let Some(item) = l.items.iter().find(|i| i.line == f.line) else { continue };
            let cells: Vec<String> = header
                .iter()
                .map(|h| match h.as_str() {
                    "id" => {
                        format!("[{}](#{})", item.id, crate::markdown::slug(&format!("{} {}", item.id, item.title)))
                    }
                    "title" => item.title.clone(),
                    "priority" => item.priority().map(status_word_keep_case).unwrap_or_default(),
                    "status" => item.status().map(status_word).unwrap_or_default(),
                    _ => String::new(),
                })
                .collect();
            text.push_str(&format!("| {} |{nl}", cells.join(" | ")));
            fixed += 1;
        }
        edits.push((at..at, text));
    }
    if edits.is_empty() {
        return Ok(0);
    }
    edits.sort_by_key(|(r, _)| r.start);
    let after = splice(&doc.text, &edits);
    let change = crate::transaction::change(&model.ws, &doc.file, &doc.text, after, &edits);
    crate::transaction::apply(&model.ws, &model.protected, &[change])?;
    Ok(fixed)
}

fn status_word_keep_case(s: &str) -> String {
    s.split_whitespace().next().unwrap_or("").to_string()
}

fn index_table(model: &Model) -> Option<&crate::markdown::Table> {
    let doc = &model.ledger.doc;
    let first = model.ledger.index.first()?;
    doc.tables.iter().find(|t| t.rows.iter().any(|r| r.line == first.line))
}
