#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod config;
mod format;
pub mod source;

pub use config::{FileSource, FileSourceBuilder};
pub use format::{Csv, JsonLines, LineFormat, TextLines};
