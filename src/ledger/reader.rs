//! The ways a ledger is written, one reader each, behind one interface. `Ledger::parse` asks the
//! readers in order and the first that finds items reads the file; `loop status` names it. A new
//! dialect is a new reader here, not branches elsewhere: what the rest of loop needs to know of
//! how a file is written — how a new attempt is written, whether an item holds its own tasks,
//! whether items are listed in an Index table — it asks the reader.

use super::{initiative, outline, sections, Dialect, Ledger};

/// How a new attempt goes into the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptForm {
    /// Inside the item's section: in its stamped list's own form when it has one, else the
    /// next numbered `Attempt #N`.
    InItem,
    /// A timestamped heading of the file's attempts history (`### 2026-01-23T00:24Z — ID.B1`).
    TimestampedHeading,
    /// A list of the item's own at the end of its section, stamped by day.
    OwnList,
    /// Nowhere: there is no file to write to yet.
    Nowhere,
}

pub trait Reader: Sync {
    fn dialect(&self) -> Dialect;
    /// Whether the file may be written this way, judged on what the readers before found.
    fn applies(&self, ledger: &Ledger) -> bool;
    /// Read the items (and whatever else the dialect keeps) into the ledger. True when the file
    /// is written this way: a reader may know that even when it finds no item.
    fn read(&self, ledger: &mut Ledger) -> bool;
    /// What the reader took the file to be, in a line.
    fn describe(&self, ledger: &Ledger) -> String;
    fn attempt_form(&self) -> AttemptForm;
    /// An item is its own plan: its tasks are in the ledger, under it.
    fn items_hold_tasks(&self) -> bool {
        false
    }
    /// Items are listed in an Index table too, whose Status cells follow theirs.
    fn keeps_index(&self) -> bool {
        false
    }
}

/// In the order `Ledger::parse` asks them.
pub(super) const READERS: [&dyn Reader; 3] = [&Sections, &SingleInitiative, &Outline];

impl Dialect {
    pub fn reader(self) -> &'static dyn Reader {
        match self {
            Dialect::Sections => &Sections,
            Dialect::SingleInitiative => &SingleInitiative,
            Dialect::Outline => &Outline,
            Dialect::Absent => &Absent,
        }
    }
}

/// `## [ID] Title` (or `### [ID]`) item sections with fields and attempts, as nanoBragg and
/// diffbragg write them; archive and roadmap bullets naming items.
pub struct Sections;

impl Reader for Sections {
    fn dialect(&self) -> Dialect {
        Dialect::Sections
    }
    fn applies(&self, _: &Ledger) -> bool {
        true
    }
    fn read(&self, ledger: &mut Ledger) -> bool {
        sections::parse_items(ledger);
        !ledger.items.is_empty()
    }
    fn describe(&self, ledger: &Ledger) -> String {
        let sections = ledger.items.iter().filter(|i| !i.archived).count();
        format!(
            "sections: {sections} `{} [ID]` item(s){}, {} Index row(s)",
            "#".repeat(ledger.items.iter().find(|i| !i.archived).map_or(2, |i| i.level as usize)),
            match ledger.items.len() - sections {
                0 => String::new(),
                n => format!(" and {n} archived bullet(s)"),
            },
            ledger.index.len()
        )
    }
    fn attempt_form(&self) -> AttemptForm {
        AttemptForm::InItem
    }
    fn keeps_index(&self) -> bool {
        true
    }
}

/// One initiative per file (`## Status`, `## Current Focus`, timestamped attempt headings), as
/// PtychoPINN writes it.
pub struct SingleInitiative;

impl Reader for SingleInitiative {
    fn dialect(&self) -> Dialect {
        Dialect::SingleInitiative
    }
    fn applies(&self, ledger: &Ledger) -> bool {
        initiative::applies(&ledger.doc)
    }
    fn read(&self, ledger: &mut Ledger) -> bool {
        initiative::parse(ledger);
        true
    }
    fn describe(&self, ledger: &Ledger) -> String {
        format!(
            "single initiative {}, no `## [ID]` items; {} timestamped attempt(s), {} checklist task(s)",
            ledger.active_focus.first().map_or("(no Current Focus)", String::as_str),
            ledger.items.iter().map(|i| i.attempts.len()).sum::<usize>(),
            ledger.items.iter().map(|i| i.tasks.len()).sum::<usize>(),
        )
    }
    fn attempt_form(&self) -> AttemptForm {
        AttemptForm::TimestampedHeading
    }
}

/// A fix plan without `[ID]` items: headed sections, checkboxes, status lines and tables.
pub struct Outline;

impl Reader for Outline {
    fn dialect(&self) -> Dialect {
        Dialect::Outline
    }
    /// An Index table names `[ID]` items: a ledger with one is not an outline.
    fn applies(&self, ledger: &Ledger) -> bool {
        ledger.index.is_empty()
    }
    fn read(&self, ledger: &mut Ledger) -> bool {
        if let Some(view) = outline::unfenced(&ledger.doc) {
            ledger.doc = view;
        }
        outline::parse(ledger);
        !ledger.items.is_empty()
    }
    fn describe(&self, ledger: &Ledger) -> String {
        format!(
            "outline: no `[ID]` items; {} item(s) from `{}` headings ({} open), {} task(s), {} attempt(s)",
            ledger.items.len(),
            "#".repeat(ledger.items.first().map_or(2, |i| i.level as usize)),
            ledger.items.iter().filter(|i| i.is_open()).count(),
            ledger.items.iter().map(|i| i.tasks.len()).sum::<usize>(),
            ledger.items.iter().map(|i| i.attempts.len()).sum::<usize>(),
        )
    }
    fn attempt_form(&self) -> AttemptForm {
        AttemptForm::OwnList
    }
    fn items_hold_tasks(&self) -> bool {
        true
    }
}

/// No ledger file yet: the plans' initiatives stand in for its items (`Ledger::absent`).
pub struct Absent;

impl Reader for Absent {
    fn dialect(&self) -> Dialect {
        Dialect::Absent
    }
    fn applies(&self, _: &Ledger) -> bool {
        false
    }
    fn read(&self, _: &mut Ledger) -> bool {
        false
    }
    fn describe(&self, ledger: &Ledger) -> String {
        format!(
            "no ledger yet: {} does not exist; {} item(s) from the plans' initiatives, nothing recorded",
            ledger.doc.file,
            ledger.items.len()
        )
    }
    fn attempt_form(&self) -> AttemptForm {
        AttemptForm::Nowhere
    }
}
