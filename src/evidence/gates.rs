//! Metric gates written in prose — `corr ≥0.999`, `|sum_ratio−1| ≤5e-3`, `abs(x-1) <= 5×10⁻³`,
//! `sum_ratio=1±5e-3` — parsed and evaluated against a run's metrics.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::plan::Plan;

const NUM: &str = r"[0-9]+(?:\.[0-9]+)?(?:[eE][+\-−]?[0-9]+|\s*[×x\*]\s*10(?:\^|\*\*)?[⁻\-−]?[0-9⁰¹²³⁴⁵⁶⁷⁸⁹]+)?";

static GATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?x)
        (?: (?P<open>\||abs\() \s* (?P<m1>[A-Za-z_][A-Za-z0-9_]*) \s* [\-−] \s* (?P<center>{NUM}) \s* (?:\||\))
          | (?P<m2>[A-Za-z_][A-Za-z0-9_]*) )
        \s* (?P<op>>=|≥|<=|≤|==|=|>|<) \s*
        (?P<value>{NUM}) (?: \s* ± \s* (?P<tol>{NUM}) )?"
    ))
    .unwrap()
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "==")]
    Eq,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Ge => "≥",
            Op::Gt => ">",
            Op::Le => "≤",
            Op::Lt => "<",
            Op::Eq => "=",
        }
    }
}

/// `metric op threshold`, where the compared quantity is `|metric − center|` when `center` is set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gate {
    pub metric: String,
    pub center: Option<f64>,
    pub op: Op,
    pub threshold: f64,
    /// The gate as written.
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub gate: Gate,
    /// The metric key the gate was matched to (`corr` matches `corr_warm`).
    pub key: String,
    pub value: f64,
    pub pass: bool,
}

/// Read a number as prose writes it: `5e-3`, `5×10⁻³`, `5 x 10^-3`, with a Unicode minus.
pub fn parse_number(s: &str) -> Option<f64> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).map(|c| if c == '−' { '-' } else { c }).collect();
    if let Some(i) = s.find(['×', 'x', '*']) {
        let (mant, rest) = s.split_at(i);
        let rest = rest.trim_start_matches(['×', 'x', '*']);
        let exp = rest.strip_prefix("10")?.trim_start_matches("^").trim_start_matches("**");
        let exp: String = exp
            .chars()
            .map(|c| match c {
                '⁻' => '-',
                '⁰' => '0',
                '¹' => '1',
                '²' => '2',
                '³' => '3',
                '⁴' => '4',
                '⁵' => '5',
                '⁶' => '6',
                '⁷' => '7',
                '⁸' => '8',
                '⁹' => '9',
                c => c,
            })
            .collect();
        return Some(mant.parse::<f64>().ok()? * 10f64.powi(exp.parse().ok()?));
    }
    s.parse().ok()
}

fn op(s: &str) -> Op {
    match s {
        ">=" | "≥" => Op::Ge,
        ">" => Op::Gt,
        "<=" | "≤" => Op::Le,
        "<" => Op::Lt,
        _ => Op::Eq,
    }
}

/// Every gate phrase in a piece of prose. `x=1±t` becomes `|x−1| ≤ t`.
pub fn find(text: &str) -> Vec<Gate> {
    let mut out = Vec::new();
    for c in GATE.captures_iter(text) {
        let metric = c.name("m1").or(c.name("m2")).map(|m| m.as_str().to_string()).unwrap_or_default();
        let Some(value) = parse_number(&c["value"]) else { continue };
        let gate = match (c.name("center"), c.name("tol")) {
            (_, Some(tol)) => Gate {
                metric,
                center: Some(value),
                op: Op::Le,
                threshold: parse_number(tol.as_str()).unwrap_or(0.0),
                text: c[0].to_string(),
            },
            (Some(center), None) => Gate {
                metric,
                center: parse_number(center.as_str()),
                op: op(&c["op"]),
                threshold: value,
                text: c[0].to_string(),
            },
            (None, None) => Gate { metric, center: None, op: op(&c["op"]), threshold: value, text: c[0].to_string() },
        };
        if !out.contains(&gate) {
            out.push(gate);
        }
    }
    out
}

/// A `--gate` list: comma-separated gates, each of which must parse.
pub fn parse_list(spec: &str) -> Result<Vec<Gate>> {
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|part| {
            let found = find(part);
            match found.as_slice() {
                [g] => Ok(g.clone()),
                _ => Err(Error::Usage(format!(
                    "--gate: cannot read `{}` (write e.g. `corr>=0.999` or `sum_ratio=1±5e-3`)",
                    part.trim()
                ))),
            }
        })
        .collect()
}

impl Gate {
    fn holds(&self, x: f64) -> bool {
        let q = match self.center {
            Some(c) => (x - c).abs(),
            None => x,
        };
        match self.op {
            Op::Ge => q >= self.threshold,
            Op::Gt => q > self.threshold,
            Op::Le => q <= self.threshold,
            Op::Lt => q < self.threshold,
            Op::Eq => q == self.threshold,
        }
    }

    /// Whether a metric key answers this gate: the same name, or the name plus a suffix
    /// (`corr` ← `corr_warm`, `corr_vs_reference`).
    pub fn matches(&self, key: &str) -> bool {
        let m = self.metric.to_ascii_lowercase();
        let k = key.to_ascii_lowercase();
        k == m || k.strip_prefix(&m).is_some_and(|rest| rest.starts_with('_'))
    }

    /// The threshold as prose: `≥0.999`, `|x−1| ≤0.005`.
    pub fn describe(&self) -> String {
        match self.center {
            Some(c) => format!("|{}−{}| {}{}", self.metric, fmt_num(c), self.op.symbol(), fmt_num(self.threshold)),
            None => format!("{}{}", self.op.symbol(), fmt_num(self.threshold)),
        }
    }
}

/// A metric as a ledger line shows it: 6 significant digits, exponent form for the very small
/// and very large (`1.40822e-5`, `0.721175`, `140.5`).
pub fn fmt_num(x: f64) -> String {
    if !x.is_finite() || x == 0.0 {
        return format!("{x}");
    }
    if x.abs() < 1e-3 || x.abs() >= 1e7 {
        let s = format!("{x:.5e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mant = if mant.contains('.') { mant.trim_end_matches('0').trim_end_matches('.') } else { mant };
        return format!("{mant}e{exp}");
    }
    let digits = (5 - x.abs().log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `loop gate check`: which run folder, and whose gates.
#[derive(Debug, Clone, Default)]
pub struct CheckRequest {
    /// Run folder holding metrics.json (or profile/metrics.json).
    pub dir: std::path::PathBuf,
    /// Explicit gates instead of the plan's.
    pub gate: Option<String>,
    /// Item whose plan states the gates (default: run.json's, else the focus item).
    pub item: Option<String>,
    /// Task or phase whose gates apply (default: run.json's task).
    pub phase: Option<String>,
}

/// A run folder's metrics against its gates (`loop gate check --json`).
#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub metrics: std::path::PathBuf,
    pub gates_from: String,
    pub verdicts: Vec<Verdict>,
    /// Gates that no metric of the folder answers.
    pub no_metric: Vec<Gate>,
    pub pass: bool,
}

/// Evaluate a run folder's metrics against `--gate`, else against the gates the plan task of its
/// run.json (or of the request) states; `load` reads the workspace only when the plan is needed.
pub fn check(req: &CheckRequest, load: impl FnOnce() -> Result<crate::model::Model>) -> Result<CheckReport> {
    use crate::focus;
    let (metrics_path, metrics) = run_metrics(&req.dir)?
        .ok_or_else(|| Error::input(req.dir.display().to_string(), 0, "no metrics.json here or in profile/"))?;
    let (gate_list, source) = match &req.gate {
        Some(spec) => (parse_list(spec)?, "--gate".to_string()),
        None => {
            let model = load()?;
            let rec = crate::run_record::RunRecord::load(&req.dir).ok();
            let item_id = req.item.clone().or(rec.as_ref().map(|r| r.item.clone()));
            let item = match item_id {
                Some(id) => {
                    model.ledger.find(&id).into_iter().next().ok_or_else(|| focus::unknown_item(&model, &id))?
                }
                None => focus::focus(&model, None)?.0,
            };
            let plan = focus::plan_for(&model, item)?;
            let phase = req.phase.clone().or(rec.and_then(|r| r.task.or(r.phase))).ok_or_else(|| {
                Error::Usage("which task's gates? give --phase (the folder has no run.json naming one)".into())
            })?;
            (from_plan(plan, &phase), format!("{} (task {phase})", plan.path))
        }
    };
    if gate_list.is_empty() {
        return Err(Error::input(source, 0, "states no metric gates (write e.g. `corr >= 0.999`)"));
    }
    let verdicts = evaluate(&gate_list, &metrics);
    let no_metric: Vec<Gate> = gate_list.iter().filter(|g| !verdicts.iter().any(|v| v.gate == **g)).cloned().collect();
    let pass = verdicts.iter().all(|v| v.pass);
    Ok(CheckReport { metrics: metrics_path, gates_from: source, verdicts, no_metric, pass })
}

#[cfg(test)]
mod fmt_tests {
    #[test]
    fn six_significant_digits() {
        assert_eq!(super::fmt_num(1.4082220284716212e-5), "1.40822e-5");
        assert_eq!(super::fmt_num(0.7211751234), "0.721175");
        assert_eq!(super::fmt_num(140.0), "140");
        assert_eq!(super::fmt_num(12345.678), "12345.7");
        assert_eq!(super::fmt_num(0.999999999993), "1");
        assert_eq!(super::fmt_num(-2.5), "-2.5");
    }
}

/// Evaluate gates on metrics: one verdict per (gate, matching key).
pub fn evaluate(gates: &[Gate], metrics: &BTreeMap<String, f64>) -> Vec<Verdict> {
    let mut out = Vec::new();
    for g in gates {
        for (k, &v) in metrics.iter().filter(|(k, _)| g.matches(k)) {
            out.push(Verdict { gate: g.clone(), key: k.clone(), value: v, pass: g.holds(v) });
        }
    }
    out
}

/// The metrics a run folder holds: `metrics.json` at its top or in `profile/`.
pub fn run_metrics(dir: &std::path::Path) -> Result<Option<(std::path::PathBuf, BTreeMap<String, f64>)>> {
    for sub in ["", "profile"] {
        let p = dir.join(sub).join("metrics.json");
        if let Ok(text) = std::fs::read_to_string(&p) {
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| Error::input(p.display().to_string(), e.line(), format!("bad metrics.json: {e}")))?;
            return Ok(Some((p, numeric_metrics(&v))));
        }
    }
    Ok(None)
}

/// Numeric top-level fields of a metrics.json object.
pub fn numeric_metrics(v: &serde_json::Value) -> BTreeMap<String, f64> {
    v.as_object()
        .map(|o| o.iter().filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x))).collect())
        .unwrap_or_default()
}

/// Gates named by a task's guidance (`--phase C1`) or a phase (`--phase C`), then the phase's
/// Exit Criteria, then the rest of the plan; the first statement of a metric wins.
pub fn from_plan(plan: &Plan, phase: &str) -> Vec<Gate> {
    let mut text = String::new();
    if let Some((p, t)) = plan.task(phase) {
        text.push_str(&t.guidance);
        text.push('\n');
        text.push_str(p.exit_criteria.as_ref().map_or("", |e| e.value.as_str()));
    } else if let Some(p) = plan.phase(phase) {
        text.push_str(p.exit_criteria.as_ref().map_or("", |e| e.value.as_str()));
        for t in &p.tasks {
            text.push('\n');
            text.push_str(&t.guidance);
        }
    }
    // Then thresholds the plan states anywhere (e.g. its Context: "corr ≥0.999").
    text.push('\n');
    text.push_str(&plan.doc.text);
    let mut out: Vec<Gate> = Vec::new();
    for g in find(&text) {
        // The first statement of a metric wins (a task's own gate over the phase's).
        if !out.iter().any(|o| o.metric == g.metric) {
            out.push(g);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_real_gate_phrases() {
        let g = find("thresholds: corr ≥0.999, |sum_ratio−1| ≤5e-3");
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].metric.as_str(), g[0].op, g[0].threshold), ("corr", Op::Ge, 0.999));
        assert_eq!((g[1].metric.as_str(), g[1].center, g[1].op), ("sum_ratio", Some(1.0), Op::Le));
        assert!((g[1].threshold - 5e-3).abs() < 1e-15);
        let g = find("ROI thresholds (corr≥0.999, |sum_ratio−1|≤5×10⁻³) are treated as spec");
        assert_eq!(g.len(), 2);
        assert!((g[1].threshold - 5e-3).abs() < 1e-15, "{g:?}");
        let g = find("Confirm correlation >=0.99 and record");
        assert_eq!((g[0].metric.as_str(), g[0].threshold), ("correlation", 0.99));
        let g = find("Gate: corr >= 0.999, abs(sum_ratio-1) <= 5e-3.");
        assert_eq!(g[1].center, Some(1.0));
        let g = parse_list("corr>=0.999,sum_ratio=1±5e-3").unwrap();
        assert_eq!((g[1].center, g[1].op, g[1].threshold), (Some(1.0), Op::Le, 5e-3));
        assert!(parse_list("corr is fine").is_err());
    }

    #[test]
    fn evaluates_against_prefixed_metrics() {
        let gates = find("corr ≥0.999, |sum_ratio−1| ≤5e-3");
        let m: BTreeMap<String, f64> =
            [("corr_warm".to_string(), 0.721175), ("sum_ratio".to_string(), 1.001), ("speedup".to_string(), 2.0)]
                .into_iter()
                .collect();
        let v = evaluate(&gates, &m);
        assert_eq!(v.len(), 2);
        assert!(!v[0].pass && v[0].key == "corr_warm");
        assert!(v[1].pass);
        assert_eq!(gates[0].describe(), "≥0.999");
        assert_eq!(gates[1].describe(), "|sum_ratio−1| ≤0.005");
    }
}
