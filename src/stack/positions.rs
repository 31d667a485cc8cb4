//! Line and column of every key path in a source file, for error messages.
//! Key paths look like `services.web.ports[0]`. OWNER: helper H1 (stub).

use super::{Location, Place};

/// Positions of one file's nodes by key path.
#[derive(Debug, Clone, Default)]
pub struct PositionIndex {
    pub file: String,
}

impl PositionIndex {
    pub fn build(file: &str, _text: &str) -> PositionIndex {
        PositionIndex {
            file: file.to_string(),
        }
    }

    pub fn get(&self, _path: &str) -> Option<Location> {
        None
    }
}

/// The positions of every loaded file; later files win, as they do in the merge.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    indexes: Vec<PositionIndex>,
}

impl Positions {
    pub fn push(&mut self, index: PositionIndex) {
        self.indexes.push(index);
    }

    /// The location of `path`, or of its nearest ancestor that has one.
    pub fn locate(&self, path: &str) -> Option<Location> {
        self.indexes.iter().rev().find_map(|i| i.get(path))
    }

    /// A [`Place`] for `path`, located when possible.
    pub fn place(&self, path: &str) -> Place {
        Place::at(path, self.locate(path))
    }
}
