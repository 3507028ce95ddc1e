//! The file source (exactly-once): splits are files; the enumerator lists a directory
//! once (bounded) or at an interval (continuous); readers keep exact positions.

mod enumerator;
mod reader;
mod split;

pub use enumerator::{FileEnumerator, FileEnumeratorState};
pub use reader::FileReader;
pub use split::{Compression, FileSplit};
