//! Just enough of the POSIX shell language (with bash's `|&` and `&>`) to tell whether a text
//! is a command line a shell would run: quotes, escapes, `$( )`, `${ }`, backticks, operators,
//! redirections, subshells, here-documents and the compound keywords. It finds the simple
//! commands (for their program names) and where `$NAME` is expanded (for stamp filling); it
//! does not run or expand anything.

use std::ops::Range;

mod redirect;

/// A simple command: its words after leading assignments, keywords and redirections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simple {
    /// `NAME=value` words before the program.
    pub assignments: Vec<String>,
    /// The program and its arguments, as written (quotes kept).
    pub words: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Script {
    pub commands: Vec<Simple>,
    /// Byte ranges of `$NAME` / `${NAME}` references the shell expands (not in single quotes,
    /// not escaped), with the name.
    pub expansions: Vec<(Range<usize>, String)>,
}

const KEYWORDS: &[&str] =
    &["if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac", "{", "}", "!", "time"];

struct Lexer<'a> {
    src: &'a str,
    at: usize,
    script: Script,
    /// The words of the simple command being read.
    cur: Vec<String>,
    cur_word: Option<String>,
    /// An operator was just read, so a command must follow (`a &&` is incomplete).
    need_command: bool,
    parens: i32,
    pending_heredocs: Vec<(String, bool)>,
    redirect_target: bool,
    keyword_balance: [i32; 4],
    /// Inside `for NAME in WORDS`: the words are no command.
    for_header: bool,
    /// A `( … )`, `fi`, `done`, `}` just closed: an operator may follow it.
    group_closed: bool,
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<char> {
        self.src[self.at..].chars().next()
    }

    fn rest(&self) -> &str {
        &self.src[self.at..]
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        Some(c)
    }

    fn push_char(&mut self, c: char) {
        self.cur_word.get_or_insert_with(String::new).push(c);
    }

    fn end_word(&mut self) -> Result<(), String> {
        let Some(w) = self.cur_word.take() else { return Ok(()) };
        if self.redirect_target {
            self.redirect_target = false;
            return Ok(());
        }
        if self.for_header {
            if w == "do" {
                self.for_header = false;
                self.keyword_balance[1] += 1;
                self.need_command = true;
            }
            return Ok(());
        }
        if w == "case" && self.cur.is_empty() {
            return Err("`case` statements are not read here".into());
        }
        if w == "for" && self.cur.is_empty() {
            self.for_header = true;
            self.need_command = false;
            return Ok(());
        }
        if KEYWORDS.contains(&w.as_str()) && self.cur.is_empty() {
            let slot = match w.as_str() {
                "if" => Some((0, 1)),
                "fi" => Some((0, -1)),
                "do" => Some((1, 1)),
                "done" => Some((1, -1)),
                "case" => Some((2, 1)),
                "esac" => Some((2, -1)),
                "{" => Some((3, 1)),
                "}" => Some((3, -1)),
                _ => None,
            };
            if let Some((k, d)) = slot {
                self.keyword_balance[k] += d;
            }
            self.need_command = !matches!(w.as_str(), "fi" | "done" | "esac" | "}");
            self.group_closed = !self.need_command;
            return Ok(());
        }
        self.need_command = false;
        self.group_closed = false;
        self.cur.push(w);
        Ok(())
    }

    fn end_command(&mut self) {
        if self.cur.is_empty() {
            return;
        }
        let words = std::mem::take(&mut self.cur);
        let n = words.iter().take_while(|w| is_assignment(w)).count();
        let (a, w) = words.split_at(n);
        self.script.commands.push(Simple { assignments: a.to_vec(), words: w.to_vec() });
    }

    /// A control operator: ends the command; `binary` ones need a command after them.
    fn operator(&mut self, binary: bool) -> Result<(), String> {
        self.end_word()?;
        if self.redirect_target {
            return Err("a redirection has no target".into());
        }
        if self.cur.is_empty() && (binary || self.need_command) && !self.group_closed {
            return Err(format!(
                "`{}` has no command before it",
                self.src[..self.at].trim_end().chars().last().unwrap_or(' ')
            ));
        }
        self.end_command();
        self.need_command = binary;
        self.group_closed = false;
        Ok(())
    }

    /// `$…`: a parameter, `${…}`, `$(…)` or `$((…))`. The `$` is already consumed.
    fn dollar(&mut self, quoted_double: bool) -> Result<(), String> {
        let start = self.at - 1;
        self.push_char('$');
        match self.peek() {
            Some('(') => {
                self.bump();
                self.push_char('(');
                let inner_start = self.at;
                let end = matching(self.src, self.at, '(', ')')?;
                let inner = &self.src[inner_start..end];
                // `$((…))` is arithmetic; `$(…)` a command whose text must parse too.
                if !inner.starts_with('(') {
                    let sub = parse(inner).map_err(|e| format!("in `$(…)`: {e}"))?;
                    for (r, name) in sub.expansions {
                        self.script.expansions.push((r.start + inner_start..r.end + inner_start, name));
                    }
                }
                for c in self.src[inner_start..=end].chars() {
                    self.push_char(c);
                }
                self.at = end + 1;
            }
            Some('{') => {
                self.bump();
                let end = self.rest().find('}').ok_or("`${` is never closed")? + self.at;
                let inner = &self.src[self.at..end];
                let name: String = inner.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    self.script.expansions.push((start..end + 1, name));
                }
                for c in self.src[self.at - 1..=end].chars() {
                    self.push_char(c);
                }
                self.at = end + 1;
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let name: String = self.rest().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                self.at += name.len();
                for c in name.chars() {
                    self.push_char(c);
                }
                self.script.expansions.push((start..self.at, name));
            }
            _ => {}
        }
        let _ = quoted_double;
        Ok(())
    }

    fn run(mut self) -> Result<Script, String> {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' => {
                    self.bump();
                    self.end_word()?;
                }
                '\n' => self.newline()?,
                '#' if self.cur_word.is_none() => {
                    // A comment runs to the end of the line.
                    self.at = self.rest().find('\n').map_or(self.src.len(), |i| self.at + i);
                }
                '\'' => self.single_quoted()?,
                '"' => self.double_quoted()?,
                '\\' => self.escaped()?,
                '$' => {
                    self.bump();
                    self.dollar(false)?;
                }
                '`' => {
                    self.bump();
                    self.backtick()?;
                }
                '&' | '|' | ';' => self.control()?,
                '(' => self.open_paren()?,
                ')' => self.close_paren()?,
                '<' | '>' => self.redirection()?,
                _ => {
                    self.bump();
                    self.push_char(c);
                }
            }
        }
        self.finish()
    }

    /// A line ends a command (unless an operator asks for one more) and starts any
    /// here-document bodies the line announced.
    fn newline(&mut self) -> Result<(), String> {
        self.bump();
        self.end_word()?;
        if !self.need_command {
            self.end_command();
        }
        self.read_heredoc_bodies()
    }

    /// `'…'`: everything up to the next single quote, as it is.
    fn single_quoted(&mut self) -> Result<(), String> {
        self.bump();
        let end = self.rest().find('\'').ok_or("a single quote is never closed")? + self.at;
        self.push_char('\'');
        for ch in self.src[self.at..=end].chars() {
            self.push_char(ch);
        }
        self.at = end + 1;
        Ok(())
    }

    /// `"…"`: escapes, `$…` and backticks inside are read; the rest is kept.
    fn double_quoted(&mut self) -> Result<(), String> {
        self.bump();
        self.push_char('"');
        loop {
            match self.bump().ok_or("a double quote is never closed")? {
                '"' => {
                    self.push_char('"');
                    return Ok(());
                }
                '\\' => {
                    self.push_char('\\');
                    if let Some(n) = self.bump() {
                        self.push_char(n);
                    }
                }
                '$' => self.dollar(true)?,
                '`' => self.backtick()?,
                ch => self.push_char(ch),
            }
        }
    }

    /// `\x` keeps `x`; a backslash before a line break joins the lines.
    fn escaped(&mut self) -> Result<(), String> {
        self.bump();
        self.push_char('\\');
        match self.bump() {
            Some('\n') => Ok(()),
            Some(n) => {
                self.push_char(n);
                Ok(())
            }
            None => Err("the line ends in a backslash".into()),
        }
    }

    /// `(` opens a subshell where a command may start; `name()` declares a function.
    fn open_paren(&mut self) -> Result<(), String> {
        self.bump();
        if self.cur_word.is_some() || !self.cur.is_empty() {
            // `name() { … }` is a function; anything else is out of place.
            if self.rest().starts_with(')') {
                self.bump();
                self.cur_word = None;
                self.cur.clear();
                return Ok(());
            }
            return Err("`(` in the middle of a command".into());
        }
        self.parens += 1;
        self.need_command = true;
        Ok(())
    }

    fn close_paren(&mut self) -> Result<(), String> {
        self.bump();
        self.end_word()?;
        if self.parens == 0 {
            return Err("`)` without its `(`".into());
        }
        if self.cur.is_empty() && self.need_command {
            return Err("`( )` holds no command".into());
        }
        self.end_command();
        self.parens -= 1;
        self.need_command = false;
        self.group_closed = true;
        Ok(())
    }

    /// The end of the text: everything opened is closed, every operator has its command.
    fn finish(mut self) -> Result<Script, String> {
        self.end_word()?;
        if self.redirect_target {
            return Err("a redirection has no target".into());
        }
        if let Some((tag, _)) = self.pending_heredocs.first() {
            return Err(format!("here-document `<<{tag}` has no body"));
        }
        if self.need_command && self.cur.is_empty() {
            return Err("the line ends with an operator that needs a command after it".into());
        }
        if self.parens != 0 {
            return Err("`(` is never closed".into());
        }
        if self.keyword_balance.iter().any(|&b| b != 0) {
            return Err("an `if`/`do`/`case`/`{` is never closed".into());
        }
        self.end_command();
        Ok(self.script)
    }

    fn backtick(&mut self) -> Result<(), String> {
        let end = self.rest().find('`').ok_or("a backtick is never closed")? + self.at;
        let inner = &self.src[self.at..end];
        parse(inner).map_err(|e| format!("in `…`: {e}"))?;
        self.push_char('`');
        for c in inner.chars() {
            self.push_char(c);
        }
        self.push_char('`');
        self.at = end + 1;
        Ok(())
    }

    fn control(&mut self) -> Result<(), String> {
        let r = self.rest();
        let (len, binary) = if r.starts_with("&&") || r.starts_with("||") || r.starts_with("|&") {
            (2, true)
        } else if r.starts_with(";;") {
            (2, false)
        } else if r.starts_with("&>") {
            return self.redirection();
        } else if r.starts_with('|') {
            (1, true)
        } else {
            (1, false)
        };
        self.operator(binary)?;
        self.at += len;
        Ok(())
    }
}

/// The byte of the `close` that matches the `open` before `from`, skipping quoted text.
fn matching(src: &str, from: usize, open: char, close: char) -> Result<usize, String> {
    let mut depth = 1;
    let mut chars = src[from..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '\'' => {
                for (_, d) in chars.by_ref() {
                    if d == '\'' {
                        break;
                    }
                }
            }
            '"' => {
                while let Some((_, d)) = chars.next() {
                    if d == '\\' {
                        chars.next();
                    } else if d == '"' {
                        break;
                    }
                }
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return Ok(from + i);
                }
            }
            _ => {}
        }
    }
    Err(format!("`{open}` is never closed"))
}

pub fn is_assignment(w: &str) -> bool {
    match w.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

/// Parse a command line; an error says what a shell would refuse.
pub fn parse(src: &str) -> Result<Script, String> {
    Lexer {
        src,
        at: 0,
        script: Script::default(),
        cur: Vec::new(),
        cur_word: None,
        need_command: false,
        parens: 0,
        pending_heredocs: Vec::new(),
        redirect_target: false,
        keyword_balance: [0; 4],
        for_header: false,
        group_closed: false,
    }
    .run()
}

#[cfg(test)]
mod tests;
