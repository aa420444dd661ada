//! Redirections and here-documents: `2>&1`, `&>`, `<<TAG` / `<<-TAG` and their bodies on the
//! lines that follow.

use super::Lexer;

impl Lexer<'_> {
    pub(super) fn redirection(&mut self) -> Result<(), String> {
        // A file-descriptor number before it (`2>`) is part of the operator.
        if self.cur_word.as_deref().is_some_and(|w| w.chars().all(|c| c.is_ascii_digit())) {
            self.cur_word = None;
        } else {
            self.end_word()?;
        }
        let r = self.rest();
        for op in ["<<<", "<<-", "<<", ">>", "&>>", "&>", ">&", "<&", ">|", "<>", ">", "<"] {
            if r.starts_with(op) {
                self.at += op.len();
                if op == "<<" || op == "<<-" {
                    return self.heredoc_tag(op == "<<-");
                }
                if op == ">&" || op == "<&" {
                    let fd: String = self.rest().chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect();
                    if !fd.is_empty() {
                        self.at += fd.len();
                        return Ok(());
                    }
                }
                self.redirect_target = true;
                while matches!(self.peek(), Some(' ' | '\t')) {
                    self.bump();
                }
                if matches!(self.peek(), None | Some('\n' | ';' | '&' | '|' | '<' | '>' | ')')) {
                    return Err(format!("`{op}` has no target"));
                }
                return Ok(());
            }
        }
        Ok(())
    }

    fn heredoc_tag(&mut self, strip_tabs: bool) -> Result<(), String> {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
        let r = self.rest();
        let (tag, len) = match r.chars().next() {
            Some(q @ ('\'' | '"')) => {
                let close = r[1..].find(q).ok_or("a here-document's quoted tag is never closed")?;
                (r[1..1 + close].to_string(), close + 2)
            }
            _ => {
                let t: String = r
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-' || *c == '.')
                    .collect();
                let n = t.len();
                (t, n)
            }
        };
        if tag.is_empty() {
            return Err("`<<` has no here-document tag".into());
        }
        self.at += len;
        self.pending_heredocs.push((tag, strip_tabs));
        Ok(())
    }

    /// After a line with `<<TAG`: skip the body up to the line that is `TAG`.
    pub(super) fn read_heredoc_bodies(&mut self) -> Result<(), String> {
        for (tag, strip) in std::mem::take(&mut self.pending_heredocs) {
            loop {
                if self.at >= self.src.len() {
                    return Err(format!("here-document `<<{tag}` is never ended by a `{tag}` line"));
                }
                let end = self.rest().find('\n').map_or(self.src.len(), |i| self.at + i);
                let line = &self.src[self.at..end];
                self.at = (end + 1).min(self.src.len());
                let line = if strip { line.trim_start_matches('\t') } else { line };
                if line.trim_end_matches('\r') == tag {
                    break;
                }
            }
        }
        Ok(())
    }
}
