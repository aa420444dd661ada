//! Finding the event objects of a Chrome trace (`{"traceEvents": [...]}` or a bare array) in
//! blocks read one after another, without parsing the JSON around them.

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    /// Before the events array: every byte is looked at (the header is short).
    #[default]
    Header,
    /// Inside the events array, between events: only `{` and `]` matter.
    Between,
    /// Inside an event object: braces and strings matter.
    Event,
    Done,
}

/// Finds event objects with `memchr`-driven skipping; brackets inside an event need no counting
/// because braces alone match in valid JSON.
#[derive(Default)]
pub struct Scanner {
    state: State,
    // Header state.
    depth: i32,
    key: Vec<u8>,
    key_open: bool,
    // Shared string state.
    in_string: bool,
    escape: bool,
    // Event state.
    braces: i32,
    carry: Vec<u8>,
    saw_events: bool,
}

impl Scanner {
    /// After the last block: was there an events array, and did it end?
    pub fn finish(&self, file: &str) -> Result<()> {
        if !self.saw_events {
            return Err(Error::input(file, 0, "not a Chrome trace: no `traceEvents` array and not an event array"));
        }
        // Between events without the closing `]` is a cut file too: counting what it holds
        // would report a partial profile as the whole.
        if self.state != State::Done {
            let place = if self.state == State::Event { "inside an event" } else { "before the events array closes" };
            return Err(Error::input(file, 0, format!("the trace ends early, {place} (truncated?); nothing written")));
        }
        Ok(())
    }

    /// Push the ranges (within `block`) of the events that start and end in it; return the
    /// events that began in an earlier block and end in this one.
    pub fn feed(&mut self, block: &[u8], ranges: &mut Vec<std::ops::Range<usize>>) -> Vec<Vec<u8>> {
        let mut carried = Vec::new();
        // Where the event being read began in this block (`None`: in an earlier one).
        let mut start = if self.state == State::Event { None } else { Some(0) };
        let mut i = 0;
        while i < block.len() {
            i = match self.state {
                State::Done => return carried,
                State::Header => {
                    self.header_byte(block[i]);
                    i + 1
                }
                State::Between => self.between(block, i, &mut start),
                State::Event if self.in_string => self.event_string(block, i),
                State::Event => {
                    let end = self.event(block, i);
                    if self.state == State::Between {
                        match start.take() {
                            Some(s) => ranges.push(s..end),
                            None => {
                                self.carry.extend_from_slice(&block[..end]);
                                carried.push(std::mem::take(&mut self.carry));
                            }
                        }
                    }
                    end
                }
            };
        }
        if self.state == State::Event {
            let from = start.unwrap_or(0);
            self.carry.extend_from_slice(&block[from..]);
        }
        carried
    }

    /// One byte of the header: follow strings and nesting until the events array opens.
    fn header_byte(&mut self, b: u8) {
        if self.in_string {
            if self.escape {
                self.escape = false;
            } else if b == b'\\' {
                self.escape = true;
            } else if b == b'"' {
                self.in_string = false;
                self.key_open = false;
            } else if self.key_open && self.key.len() < 32 {
                self.key.push(b);
            }
            return;
        }
        match b {
            b'"' => {
                self.in_string = true;
                if self.depth == 1 {
                    self.key.clear();
                    self.key_open = true;
                }
            }
            b'[' if self.depth == 0 || (self.depth == 1 && self.key == b"traceEvents") => {
                self.state = State::Between;
                self.saw_events = true;
            }
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => self.depth -= 1,
            _ => {}
        }
    }

    /// Between events: skip to the next event's `{` (noting where it starts) or the array's `]`.
    fn between(&mut self, block: &[u8], i: usize, start: &mut Option<usize>) -> usize {
        let Some(k) = memchr::memchr2(b'{', b']', &block[i..]) else { return block.len() };
        let at = i + k;
        if block[at] == b']' {
            self.state = State::Done;
        } else {
            self.state = State::Event;
            self.braces = 1;
            *start = Some(at);
        }
        at + 1
    }

    /// Inside a string in an event: skip to its closing quote, minding escapes.
    fn event_string(&mut self, block: &[u8], i: usize) -> usize {
        if self.escape {
            // The byte after a backslash, possibly at the start of a block.
            self.escape = false;
            return i + 1;
        }
        let Some(k) = memchr::memchr2(b'"', b'\\', &block[i..]) else { return block.len() };
        let at = i + k;
        if block[at] == b'\\' {
            self.escape = true;
        } else {
            self.in_string = false;
        }
        at + 1
    }

    /// Inside an event, outside strings: count braces; the state turns `Between` when the event
    /// closes, and the returned position is just past its `}`.
    fn event(&mut self, block: &[u8], i: usize) -> usize {
        let Some(k) = memchr::memchr3(b'"', b'{', b'}', &block[i..]) else { return block.len() };
        let at = i + k;
        match block[at] {
            b'"' => self.in_string = true,
            b'{' => self.braces += 1,
            _ => {
                self.braces -= 1;
                if self.braces == 0 {
                    self.state = State::Between;
                }
            }
        }
        at + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trace cut anywhere before its events array closes is refused, not counted.
    #[test]
    fn a_cut_trace_is_an_error() {
        let t = r#"{"traceEvents": [{"name": "a", "ph": "X", "ts": 0, "dur": 1}, {"name": "b", "ph": "X", "ts": 1, "dur": 1}]}"#;
        let close = t.rfind(']').unwrap();
        for cut in t.find('[').unwrap() + 1..=close {
            let mut s = Scanner::default();
            s.feed(&t.as_bytes()[..cut], &mut Vec::new());
            assert!(s.finish("t").is_err(), "cut at {cut}: {}", &t[..cut]);
        }
        let mut s = Scanner::default();
        s.feed(t.as_bytes(), &mut Vec::new());
        assert!(s.finish("t").is_ok());
    }

    /// The scanner finds the same events whatever the block size, and only the events.
    #[test]
    fn block_boundaries_do_not_matter() {
        let t = r#"{"otherData": {"a": "x]}\"{", "traceEvents": 1}, "traceEvents": [
            {"name": "o\"uter", "ph": "X", "ts": 0, "dur": 100, "pid": 1, "tid": 1, "args": {"s": "}{][\\", "v": [{"a": 1}]}},
            {"name": "a", "ph": "X", "ts": 10, "dur": 30, "pid": 1, "tid": 1},
            {"name": "a", "ph": "B", "ts": 50, "pid": 1, "tid": 1}, {"ph": "E", "ts": 60, "pid": 1, "tid": 1}
        ], "displayTimeUnit": "ms", "more": [{"name": "not an event", "ph": "X", "ts": 0, "dur": 1}]}"#;
        let events = |block: usize| {
            let mut s = Scanner::default();
            let mut out: Vec<String> = Vec::new();
            for chunk in t.as_bytes().chunks(block) {
                let mut ranges = Vec::new();
                for ev in s.feed(chunk, &mut ranges) {
                    out.push(String::from_utf8(ev).unwrap());
                }
                out.extend(ranges.into_iter().map(|r| String::from_utf8(chunk[r].to_vec()).unwrap()));
            }
            s.finish("t").unwrap();
            out
        };
        let whole = events(t.len());
        assert_eq!(whole.len(), 4);
        assert!(whole.iter().all(|e| serde_json::from_str::<serde_json::Value>(e).is_ok()), "{whole:?}");
        for block in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(events(block), whole, "block {block}");
        }
    }
}
