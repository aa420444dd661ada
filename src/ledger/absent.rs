//! A workspace whose ledger does not exist yet (PtychoPINN's first state: a plan and a memo, no
//! `docs/fix_plan.md`): its items are the plans' initiatives, so the memo and the plan still give
//! the step; nothing can be recorded until a ledger exists.

use super::{Dialect, Item, Ledger};
use crate::markdown::Document;
use crate::plan::Plan;

impl Ledger {
    /// The ledger-to-be at `file`: one item per initiative a plan names, open unless the plan's
    /// own status closes it.
    pub fn absent(file: &str, plans: &[Plan]) -> Ledger {
        let mut ledger = Ledger::parse(Document::parse(file, String::new()));
        ledger.dialect = Dialect::Absent;
        ledger.diagnostics.push(crate::diag::Diagnostic::warning(
            file,
            0,
            "no ledger yet: the plans' initiatives stand in for its items, and no attempt can be recorded until it exists",
        ));
        for plan in plans {
            let Some(id) = plan.initiative.clone() else { continue };
            if !ledger.find(&id).is_empty() {
                continue;
            }
            let title = plan.doc.headings.first().map_or_else(|| plan.path.clone(), |h| h.text.trim().to_string());
            let closed = plan.status.as_deref().is_some_and(super::is_closed_status);
            ledger.by_id.entry(super::normalize_id(&id)).or_default().push(ledger.items.len());
            ledger.items.push(Item {
                id,
                title,
                line: 0,
                level: 2,
                range: 0..0,
                fields: Vec::new(),
                attempts: Vec::new(),
                archived: false,
                cited: 0,
                tasks: Vec::new(),
                closed: Some(closed),
                derived_status: Some(match &plan.status {
                    Some(s) => format!("no ledger entry yet ({} says {s})", plan.path),
                    None => format!("no ledger entry yet (from {})", plan.path),
                }),
            });
        }
        ledger
    }

    /// Where an item stands, for messages: `docs/fix_plan.md:7`, or that there is no ledger yet.
    pub fn place(&self, line: usize) -> String {
        if self.dialect == Dialect::Absent {
            format!("no {} yet", self.doc.file)
        } else {
            format!("{}:{line}", self.doc.file)
        }
    }

    /// What to tell someone who wants to record in a ledger that does not exist yet.
    pub fn absent_help(&self, stated: Option<usize>) -> String {
        let id = self.items.first().map_or("ITEM-ID", |i| i.id.as_str());
        let elsewhere = match stated {
            Some(line) => {
                format!("loop.yaml:{line} sets `ledger:` to {}; change it if the ledger lives elsewhere", self.doc.file)
            }
            None => "or set `ledger:` in loop.yaml if it lives elsewhere".to_string(),
        };
        format!(
            "there is no ledger yet ({} does not exist), so there is nowhere to record; start one with a section per item, e.g.\n\n## [{id}] Title\n- Status: in_progress\n- Attempts History:\n\nthen run this again ({elsewhere})",
            self.doc.file
        )
    }
}
