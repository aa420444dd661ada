//! Profiler hotspots from a Chrome trace-event file (`loop sim profile`'s trace.json or a
//! PyTorch profiler trace): self and total time per span name. The file is streamed — events are
//! visited one by one while parsing, never held as JSON — so traces of hundreds of MB fit in a
//! few tens of MB.

use std::collections::HashMap;
use std::fmt;
use std::io::BufReader;
use std::path::Path;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct Hotspot {
    pub rank: usize,
    pub name: String,
    pub calls: u64,
    pub total_ms: f64,
    pub self_ms: f64,
    /// Share of all self time.
    pub percent: f64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub events: u64,
    pub threads: usize,
    pub unmatched_end: u64,
    pub unclosed_begin: u64,
    pub hotspots: Vec<Hotspot>,
}

/// One event as the trace gives it; everything else (args, cat, ...) is skipped unparsed.
#[derive(Deserialize)]
struct RawEvent {
    #[serde(default)]
    name: String,
    #[serde(default)]
    ph: String,
    #[serde(default)]
    ts: Option<f64>,
    #[serde(default)]
    dur: Option<f64>,
    #[serde(default)]
    pid: Option<serde_json::Value>,
    #[serde(default)]
    tid: Option<serde_json::Value>,
}

#[derive(Clone, Copy)]
struct Span {
    ts: f64,
    dur: f64,
    name: u32,
}

#[derive(Default)]
struct Collector {
    names: HashMap<String, u32>,
    name_list: Vec<String>,
    threads: HashMap<(String, String), Vec<Span>>,
    open: HashMap<(String, String), Vec<(u32, f64)>>,
    events: u64,
    unmatched_end: u64,
}

impl Collector {
    fn intern(&mut self, name: String) -> u32 {
        if let Some(&i) = self.names.get(&name) {
            return i;
        }
        let i = self.name_list.len() as u32;
        self.name_list.push(name.clone());
        self.names.insert(name, i);
        i
    }

    fn push(&mut self, e: RawEvent) {
        let key = (id(&e.pid), id(&e.tid));
        match e.ph.as_str() {
            "X" => {
                let (Some(ts), Some(dur)) = (e.ts, e.dur) else { return };
                self.events += 1;
                let name = self.intern(e.name);
                self.threads.entry(key).or_default().push(Span { ts, dur: dur.max(0.0), name });
            }
            "B" => {
                let Some(ts) = e.ts else { return };
                self.events += 1;
                let name = self.intern(e.name);
                self.open.entry(key).or_default().push((name, ts));
            }
            "E" => {
                let Some(ts) = e.ts else { return };
                self.events += 1;
                match self.open.get_mut(&key).and_then(|s| s.pop()) {
                    Some((name, start)) => {
                        self.threads.entry(key).or_default().push(Span { ts: start, dur: (ts - start).max(0.0), name })
                    }
                    None => self.unmatched_end += 1,
                }
            }
            _ => {}
        }
    }

    fn report(self) -> Report {
        let n = self.name_list.len();
        let (mut calls, mut total, mut own) = (vec![0u64; n], vec![0f64; n], vec![0f64; n]);
        let threads = self.threads.len();
        for (_, mut spans) in self.threads {
            // Parents before children: earlier start first, longer first at equal starts.
            spans.sort_by(|a, b| a.ts.total_cmp(&b.ts).then(b.dur.total_cmp(&a.dur)));
            let mut stack: Vec<(f64, usize)> = Vec::new(); // (end, index)
            let mut child = vec![0f64; spans.len()];
            for (i, s) in spans.iter().enumerate() {
                while stack.last().is_some_and(|&(end, _)| end <= s.ts) {
                    stack.pop();
                }
                if let Some(&(_, parent)) = stack.last() {
                    child[parent] += s.dur;
                }
                stack.push((s.ts + s.dur, i));
            }
            for (i, s) in spans.iter().enumerate() {
                let k = s.name as usize;
                calls[k] += 1;
                total[k] += s.dur;
                own[k] += (s.dur - child[i]).max(0.0);
            }
        }
        let all_self: f64 = own.iter().sum();
        let mut order: Vec<usize> = (0..n).filter(|&k| calls[k] > 0).collect();
        order.sort_by(|&a, &b| own[b].total_cmp(&own[a]).then(total[b].total_cmp(&total[a])));
        let hotspots = order
            .into_iter()
            .enumerate()
            .map(|(r, k)| Hotspot {
                rank: r + 1,
                name: self.name_list[k].clone(),
                calls: calls[k],
                total_ms: total[k] / 1e3,
                self_ms: own[k] / 1e3,
                percent: if all_self > 0.0 { 100.0 * own[k] / all_self } else { 0.0 },
            })
            .collect();
        Report {
            events: self.events,
            threads,
            unmatched_end: self.unmatched_end,
            unclosed_begin: self.open.values().map(|v| v.len() as u64).sum(),
            hotspots,
        }
    }
}

fn id(v: &Option<serde_json::Value>) -> String {
    match v {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Visits `[event, ...]` handing each event to the collector as soon as it is parsed.
struct Events<'a>(&'a mut Collector);

impl<'de> DeserializeSeed<'de> for Events<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Events<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of trace events")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while let Some(e) = seq.next_element::<RawEvent>()? {
            self.0.push(e);
        }
        Ok(())
    }
}

/// The whole file: either a bare event array or an object with `traceEvents`.
struct Trace<'a>(&'a mut Collector);

impl<'de> DeserializeSeed<'de> for Trace<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Trace<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Chrome trace: an event array or an object with traceEvents")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<(), A::Error> {
        Events(self.0).visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "traceEvents" {
                map.next_value_seed(Events(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

pub fn analyze(path: &Path) -> Result<Report> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 20, file));
    let mut c = Collector::default();
    Trace(&mut c)
        .deserialize(&mut de)
        .map_err(|e| Error::input(path.display().to_string(), e.line(), format!("not a Chrome trace: {e}")))?;
    Ok(c.report())
}

pub fn analyze_str(text: &str) -> Result<Report> {
    let mut de = serde_json::Deserializer::from_str(text);
    let mut c = Collector::default();
    Trace(&mut c)
        .deserialize(&mut de)
        .map_err(|e| Error::input("trace", e.line(), format!("not a Chrome trace: {e}")))?;
    Ok(c.report())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn write(report: &Report, dir: &Path, source: &str) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut csv = String::from("rank,name,calls,total_ms,self_ms,percent\n");
    for h in &report.hotspots {
        csv.push_str(&format!(
            "{},{},{},{:.3},{:.3},{:.2}\n",
            h.rank,
            csv_field(&h.name),
            h.calls,
            h.total_ms,
            h.self_ms,
            h.percent
        ));
    }
    let p = dir.join("hot_loops.csv");
    std::fs::write(&p, csv).map_err(|e| Error::io(&p, e))?;
    let mut md = format!(
        "# Hotspots\n\nTrace: `{source}` — {} events on {} thread(s).\n\n| rank | name | calls | total ms | self ms | self % |\n| --- | --- | --- | --- | --- | --- |\n",
        report.events, report.threads
    );
    for h in report.hotspots.iter().take(20) {
        md.push_str(&format!(
            "| {} | `{}` | {} | {:.3} | {:.3} | {:.1} |\n",
            h.rank,
            h.name.replace('|', "\\|"),
            h.calls,
            h.total_ms,
            h.self_ms,
            h.percent
        ));
    }
    if report.unmatched_end + report.unclosed_begin > 0 {
        md.push_str(&format!(
            "\n{} `E` events without a `B`, {} `B` events never closed (ignored).\n",
            report.unmatched_end, report.unclosed_begin
        ));
    }
    let p = dir.join("hotspots.md");
    std::fs::write(&p, md).map_err(|e| Error::io(&p, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_spans_get_self_time() {
        // outer 0..100 holds a 10..40 and b 50..70; b holds a 55..60.
        let t = r#"{"traceEvents": [
            {"name": "outer", "ph": "X", "ts": 0, "dur": 100, "pid": 1, "tid": 1, "args": {"x": [1, {"y": 2}]}},
            {"name": "b", "ph": "X", "ts": 50, "dur": 20, "pid": 1, "tid": 1},
            {"name": "a", "ph": "X", "ts": 10, "dur": 30, "pid": 1, "tid": 1},
            {"name": "a", "ph": "X", "ts": 55, "dur": 5, "pid": 1, "tid": 1},
            {"name": "a", "ph": "X", "ts": 0, "dur": 7, "pid": 1, "tid": 2},
            {"name": "meta", "ph": "M", "pid": 1}
        ], "displayTimeUnit": "ms"}"#;
        let r = analyze_str(t).unwrap();
        let get = |n: &str| r.hotspots.iter().find(|h| h.name == n).unwrap().clone();
        assert_eq!((get("outer").self_ms, get("outer").total_ms), (0.05, 0.1));
        assert_eq!((get("a").calls, get("a").self_ms), (3, 0.042));
        assert_eq!(get("b").self_ms, 0.015);
        assert_eq!(r.hotspots[0].name, "outer");
        assert_eq!(r.threads, 2);
    }

    #[test]
    fn begin_end_pairs_and_bare_arrays() {
        let t = r#"[{"name":"f","ph":"B","ts":0,"pid":1,"tid":"main"},{"name":"g","ph":"B","ts":2,"pid":1,"tid":"main"},
                   {"ph":"E","ts":5,"pid":1,"tid":"main"},{"ph":"E","ts":10,"pid":1,"tid":"main"},{"ph":"E","ts":11,"pid":1,"tid":"main"}]"#;
        let r = analyze_str(t).unwrap();
        let f = r.hotspots.iter().find(|h| h.name == "f").unwrap();
        assert!((f.total_ms - 0.010).abs() < 1e-12 && (f.self_ms - 0.007).abs() < 1e-12);
        assert_eq!(r.unmatched_end, 1);
        assert!(analyze_str("{\"traceEvents\": 3}").is_err());
    }
}
