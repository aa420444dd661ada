//! Everything `loop` reads from a workspace, loaded once: ledger, plans, protected assets and
//! the Do Now memo.

use rayon::prelude::*;

use crate::diag::{Diagnostic, Severity};
use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::markdown::Document;
use crate::memo::Memo;
use crate::plan::Plan;
use crate::protect::Protected;
use crate::workspace::Workspace;

#[derive(Debug)]
pub struct Model {
    pub ws: Workspace,
    pub ledger: Ledger,
    pub plans: Vec<Plan>,
    pub protected: Protected,
    pub memo: Option<Memo>,
}

impl Model {
    pub fn load(ws: Workspace) -> Result<Model> {
        let ledger_rel = ws.config.ledger.clone();
        let ledger_path = ws.ledger_path();
        let files = ws.plan_files()?;
        let memo_path = ws.path(&ws.config.input);
        // A plan or a memo without a ledger is a workflow that has started: read what is there.
        let absent = !ledger_path.is_file();
        if absent && files.is_empty() && !memo_path.is_file() {
            return Err(match ws.stated("ledger") {
                Some(line) => Error::input(
                    crate::workspace::CONFIG_FILE,
                    line,
                    format!("ledger: `{ledger_rel}` does not exist, and there is no plan or memo either; fix the path, or start a workspace with `loop init`"),
                ),
                None => Error::input(
                    &ledger_rel,
                    0,
                    format!(
                        "ledger not found in {}, and no plan or memo either (set `ledger:` in loop.yaml if it lives elsewhere)",
                        ws.root.display()
                    ),
                ),
            });
        }
        // Finish (or clear) what a killed write left, before anything is read.
        let mut dirs: Vec<std::path::PathBuf> = [ledger_path.clone(), ws.path(&ws.config.input)]
            .into_iter()
            .chain(files.iter().map(|f| ws.path(f)))
            .filter_map(|p| p.parent().map(|d| d.to_path_buf()))
            .collect();
        dirs.sort();
        dirs.dedup();
        crate::transaction::recover(&ws, &dirs)?;
        // The ledger and the plans are independent: parse them side by side.
        let load_ledger = || {
            if absent {
                Ok(None)
            } else {
                Document::load(&ledger_path, &ledger_rel).map(|d| Some(Ledger::parse(d)))
            }
        };
        let load_plans =
            || files.par_iter().map(|f| Document::load(&ws.path(f), f).map(Plan::parse)).collect::<Result<Vec<_>>>();
        // Starting the thread pool costs more than it saves for a ledger alone.
        let (ledger, plans) =
            if files.is_empty() { (load_ledger(), Ok(Vec::new())) } else { rayon::join(load_ledger, load_plans) };
        let memo =
            if memo_path.is_file() { Some(Memo::parse(&Document::load(&memo_path, &ws.config.input)?)) } else { None };
        let plans = plans?;
        let ledger = ledger?.unwrap_or_else(|| Ledger::absent(&ledger_rel, &plans));
        Ok(Model { protected: Protected::load(&ws)?, ledger, plans, memo, ws })
    }

    /// The workspace at `--root` (else found from the current directory), read.
    pub fn open(root: Option<&std::path::Path>) -> Result<Model> {
        Model::load(Workspace::find(root)?)
    }

    pub fn diagnostics(&self) -> Vec<&Diagnostic> {
        self.ledger
            .diagnostics
            .iter()
            .chain(self.plans.iter().flat_map(|p| &p.diagnostics))
            .chain(self.protected.unreadable.iter())
            .collect()
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics().iter().any(|d| d.severity == Severity::Error)
    }

    pub fn plan(&self, path: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.path == path)
    }
}
