//! The command line: parse, plan, execute, report.

pub mod args;
pub mod backend;
pub mod device;
pub mod naming;
pub mod plan;
pub mod report;
pub mod run;
