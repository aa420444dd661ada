//! Item IDs as the workflow writes them (`VECTOR-TRICUBIC-002`, `seed`, `AT‑PARALLEL‑012` with
//! Unicode dashes) and when two spellings name one item.

/// An item ID as prose writes it (`VECTOR-TRICUBIC-002`): capitals and digits joined by hyphens
/// (or the Unicode dashes U+2010–U+2015 that some editors put in their place).
pub const ID_PATTERN: &str = r"[A-Z][A-Z0-9]*(?:[-\x{2010}-\x{2015}][A-Z0-9]+)+";

/// U+2010–U+2015 (hyphen, non-breaking hyphen, figure dash, en and em dash, bar).
pub fn is_unicode_dash(c: char) -> bool {
    ('\u{2010}'..='\u{2015}').contains(&c)
}

/// An ID for comparison: Unicode dashes read as `-`, ASCII case folded.
pub fn normalize_id(id: &str) -> String {
    id.chars().map(|c| if is_unicode_dash(c) { '-' } else { c.to_ascii_uppercase() }).collect()
}

/// Whether two spellings name one ID (`at‑parallel‑012` is `AT-PARALLEL-012`).
pub fn ids_equal(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || normalize_id(a) == normalize_id(b)
}

/// An ID as headings and Index rows write it: a letter or digit, then letters, digits, `_ . -`
/// or Unicode dashes.
pub fn is_item_id(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') || is_unicode_dash(c))
}
