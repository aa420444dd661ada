//! Evidence: numbers that decide gates. Metric gates from plan prose, image comparison and
//! profiler hotspots.

pub mod compare;
pub mod float_image;
pub mod gates;
pub mod hotspots;
pub mod trace_scan;
