//! Profiler hotspots from a Chrome trace-event file (`loop sim profile`'s trace.json or a
//! PyTorch profiler trace): self and total time per span name. The file is streamed — events are
//! visited one by one while parsing, never held as JSON — so traces of hundreds of MB fit in a
//! few tens of MB.

use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::trace_scan::Scanner;
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

/// One event as the trace gives it, borrowing from the input; other fields (args, cat, ...) are
/// skipped.
#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    ph: Option<Cow<'a, str>>,
    #[serde(default)]
    ts: Option<f64>,
    #[serde(default)]
    dur: Option<f64>,
    #[serde(default, borrow)]
    pid: Option<&'a RawValue>,
    #[serde(default, borrow)]
    tid: Option<&'a RawValue>,
}

#[derive(Clone, Copy)]
struct Span {
    ts: f64,
    dur: f64,
    name: u32,
}

#[derive(Default)]
struct Collector {
    names: FxHashMap<String, u32>,
    name_list: Vec<String>,
    /// Thread index by the raw `pid|tid` text; spans and open `B` events per thread.
    thread_index: FxHashMap<String, usize>,
    threads: Vec<Vec<Span>>,
    open: Vec<Vec<(u32, f64)>>,
    key: String,
    events: u64,
    unmatched_end: u64,
}

impl Collector {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.names.get(name) {
            return i;
        }
        let i = self.name_list.len() as u32;
        self.name_list.push(name.to_string());
        self.names.insert(name.to_string(), i);
        i
    }

    fn thread(&mut self) -> usize {
        if let Some(&t) = self.thread_index.get(&self.key) {
            return t;
        }
        let t = self.threads.len();
        self.thread_index.insert(self.key.clone(), t);
        self.threads.push(Vec::new());
        self.open.push(Vec::new());
        t
    }

    fn push(&mut self, e: RawEvent) {
        self.key.clear();
        self.key.push_str(e.pid.map_or("", |v| v.get()));
        self.key.push('|');
        self.key.push_str(e.tid.map_or("", |v| v.get()));
        let name = e.name.as_deref().unwrap_or("");
        match e.ph.as_deref().unwrap_or("") {
            "X" => {
                let (Some(ts), Some(dur)) = (e.ts, e.dur) else { return };
                self.events += 1;
                let name = self.intern(name);
                let t = self.thread();
                self.threads[t].push(Span { ts, dur: dur.max(0.0), name });
            }
            "B" => {
                let Some(ts) = e.ts else { return };
                self.events += 1;
                let name = self.intern(name);
                let t = self.thread();
                self.open[t].push((name, ts));
            }
            "E" => {
                let Some(ts) = e.ts else { return };
                self.events += 1;
                let t = self.thread();
                match self.open[t].pop() {
                    Some((name, start)) => self.threads[t].push(Span { ts: start, dur: (ts - start).max(0.0), name }),
                    None => self.unmatched_end += 1,
                }
            }
            _ => {}
        }
    }

    fn report(self) -> Report {
        let n = self.name_list.len();
        let (mut calls, mut total, mut own) = (vec![0u64; n], vec![0f64; n], vec![0f64; n]);
        let threads = self.threads.iter().filter(|s| !s.is_empty()).count();
        for mut spans in self.threads {
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
            unclosed_begin: self.open.iter().map(|v| v.len() as u64).sum(),
            hotspots,
        }
    }
}

/// Stream a trace file: a byte scanner finds each event object of the `traceEvents` array (or of
/// a bare top-level array) in blocks read from disk, the events of a block are parsed in parallel,
/// then folded in order. Memory stays at one block plus the aggregates.
/// Events that straddled blocks (whole), and ranges of the events inside a block.
type Scanned = (Vec<Vec<u8>>, Vec<std::ops::Range<usize>>);

pub fn analyze(path: &Path) -> Result<Report> {
    use rayon::prelude::*;
    use std::io::Read;
    const BLOCK: usize = 8 << 20;
    let shown = path.display().to_string();
    let bad = |e: serde_json::Error| Error::input(&shown, 0, format!("bad trace event: {e}"));
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut c = Collector::default();
    let mut scan = Scanner::default();
    // Read and scan the next block while the current one is parsed (two buffers in turn).
    let mut read_scan = |buf: &mut Vec<u8>, scan: &mut Scanner| -> Result<Scanned> {
        buf.resize(BLOCK, 0);
        let mut filled = 0;
        while filled < BLOCK {
            let n = file.read(&mut buf[filled..]).map_err(|e| Error::io(path, e))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        buf.truncate(filled);
        let mut ranges = Vec::new();
        let carried = scan.feed(buf, &mut ranges);
        Ok((carried, ranges))
    };
    let (mut cur, mut next) = (Vec::new(), Vec::new());
    let (mut carried, mut ranges) = read_scan(&mut cur, &mut scan)?;
    loop {
        for ev in carried.drain(..) {
            c.push(serde_json::from_slice(&ev).map_err(bad)?);
        }
        if cur.is_empty() {
            break;
        }
        let (parsed, ahead) = rayon::join(
            || ranges.par_iter().map(|r| serde_json::from_slice::<RawEvent>(&cur[r.clone()])).collect::<Vec<_>>(),
            || read_scan(&mut next, &mut scan),
        );
        for e in parsed {
            c.push(e.map_err(bad)?);
        }
        (carried, ranges) = ahead?;
        std::mem::swap(&mut cur, &mut next);
    }
    scan.finish(&shown)?;
    Ok(c.report())
}

/// The same analysis over a trace held in memory (one block).
pub fn analyze_str(text: &str) -> Result<Report> {
    let bad = |e: serde_json::Error| Error::input("trace", 0, format!("bad trace event: {e}"));
    let (mut c, mut scan, mut ranges) = (Collector::default(), Scanner::default(), Vec::new());
    let bytes = text.as_bytes();
    // A single block has no events carried over from an earlier one.
    let _ = scan.feed(bytes, &mut ranges);
    for r in ranges {
        c.push(serde_json::from_slice(&bytes[r]).map_err(bad)?);
    }
    scan.finish("trace")?;
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
