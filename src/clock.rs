//! The one source of time: `LOOP_NOW` (RFC 3339) overrides the clock so runs are repeatable.

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};

pub const ENV: &str = "LOOP_NOW";

pub fn now() -> Result<DateTime<Utc>> {
    match std::env::var(ENV) {
        Ok(v) if !v.trim().is_empty() => DateTime::parse_from_rfc3339(v.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| Error::Usage(format!("{ENV}={v}: not an RFC 3339 time ({e}), e.g. 2026-01-05T15:30:00Z"))),
        _ => Ok(Utc::now()),
    }
}

/// `20260105T153000Z`: the artifacts folder stamp.
pub fn stamp(t: &DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

pub fn date(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}
