//! Line and column of every key path in a source file, for error messages.
//!
//! Key paths look like `services.web.ports[0]`: mapping keys joined by `.`, sequence items as
//! `[i]`, no prefix at the top level. A mapping entry is located at its key, a sequence item at
//! the item. Built from the event stream of `saphyr-parser`; when that parser rejects a text
//! (it may disagree with the YAML loader on an edge case) the index is simply empty.

use std::collections::HashMap;

use indexmap::IndexMap;

use saphyr_parser::{Event, Parser, Span};

use super::yaml_tree::TreeBuilder;
use super::{Location, Place};

/// Most entries an index records; aliases copy subtrees, and a hostile file must not make the
/// index grow without bound (the loader refuses alias bombs before this matters).
const MAX_ENTRIES: usize = 1_000_000;

/// Most entries aliases may copy: beyond it, aliased descendants fall back to the alias's own
/// position (through [`PositionIndex::get`]'s ancestor lookup).
const MAX_COPIED: usize = 50_000;

/// Positions of one file's nodes by key path.
#[derive(Debug, Clone, Default)]
pub struct PositionIndex {
    pub file: String,
    /// Key path -> (line, column), in the order the paths were met; an anchored node's
    /// descendants are a contiguous run of indexes, which is what aliases copy.
    entries: IndexMap<String, (usize, usize)>,
}

/// What a scan of a text found: its index and how many nodes it expands to.
#[derive(Debug, Clone)]
pub struct Scan {
    pub index: PositionIndex,
    /// Nodes of the first document once every alias is expanded (saturating); `None` when the
    /// event parser rejected the text.
    pub expanded_nodes: Option<u64>,
    /// The document's YAML tree built from the same events, when the one-pass builder could
    /// build it exactly as `yaml_serde` would (see [`super::yaml_tree`]); `None` means "parse
    /// the text with `yaml_serde`".
    pub value: Option<serde_yaml::Value>,
}

/// Indexes `text` and counts its nodes with aliases expanded, stopping (with the count over
/// `node_cap`) as soon as the count passes `node_cap`; the index is then left empty.
pub fn scan(file: &str, text: &str, node_cap: u64) -> Scan {
    let empty = || PositionIndex {
        file: file.to_string(),
        ..Default::default()
    };
    let mut builder = Builder {
        index: empty(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        node_cap,
        copied: 0,
    };
    let mut tree = Some(TreeBuilder::default());
    match builder.run(text, &mut tree) {
        Some(()) if builder.nodes <= node_cap => Scan {
            index: builder.index,
            expanded_nodes: Some(builder.nodes),
            value: tree.and_then(TreeBuilder::finish),
        },
        Some(()) => Scan {
            index: empty(),
            expanded_nodes: Some(builder.nodes),
            value: None,
        },
        None => Scan {
            index: empty(),
            expanded_nodes: None,
            value: None,
        },
    }
}

impl PositionIndex {
    /// Indexes `text` (named `file` in locations). Never fails: unparsable text gives an empty
    /// index.
    pub fn build(file: &str, text: &str) -> PositionIndex {
        scan(file, text, u64::MAX).index
    }

    /// The location recorded for exactly `path`.
    pub fn get_exact(&self, path: &str) -> Option<Location> {
        self.entries.get(path).map(|&(line, column)| Location {
            file: self.file.clone(),
            line,
            column,
        })
    }

    /// The location of `path`, or of its nearest ancestor that has one.
    pub fn get(&self, path: &str) -> Option<Location> {
        let mut current = Some(path);
        while let Some(p) = current {
            if let Some(loc) = self.get_exact(p) {
                return Some(loc);
            }
            current = parent_path(p);
        }
        None
    }

    /// Number of recorded paths.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A [`Place`] for `path` in this file, located when possible.
    pub fn place(&self, path: &str) -> Place {
        Place::at(path, self.get(path))
    }

    fn insert(&mut self, path: String, line: usize, column: usize, overwrite: bool) {
        if self.entries.len() >= MAX_ENTRIES {
            return;
        }
        if !overwrite && self.entries.contains_key(&path) {
            return;
        }
        self.entries.insert(path, (line, column));
    }
}

/// The parent of a key path: `a.b[2]` -> `a.b` -> `a` -> `` -> none.
pub fn parent_path(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    if path.ends_with(']') {
        if let Some(i) = path.rfind('[') {
            return Some(&path[..i]);
        }
    }
    Some(path.rfind('.').map_or("", |i| &path[..i]))
}

/// `base` + `.key` (no dot at the top level).
pub fn join_key(base: &str, key: &str) -> String {
    if base.is_empty() {
        return key.to_string();
    }
    let mut path = String::with_capacity(base.len() + 1 + key.len());
    path.push_str(base);
    path.push('.');
    path.push_str(key);
    path
}

/// The text of a mapping key as it appears in key paths.
pub fn key_text(key: &serde_yaml::Value) -> String {
    use serde_yaml::Value;
    match key {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => "null".to_string(),
        Value::Tagged(t) => key_text(&t.value),
        Value::Sequence(_) | Value::Mapping(_) => "?".to_string(),
    }
}

/// `base[i]`.
pub fn join_index(base: &str, index: usize) -> String {
    format!("{base}[{index}]")
}

/// Where an anchored container started: its anchor id, the first of its descendants in
/// `entries`, and the node count before it.
#[derive(Clone, Copy)]
struct AnchorStart {
    id: usize,
    entry: usize,
    nodes: u64,
}

enum FrameKind {
    Mapping {
        /// The path of the value to come once a key was read.
        pending: Option<Pending>,
    },
    Sequence {
        next: usize,
    },
    /// A node whose position we do not track (a complex key): skip to its end.
    Skip,
}

struct Frame {
    kind: FrameKind,
    path: String,
    /// A merge (`<<`) source: its keys belong to the enclosing mapping and do not replace keys
    /// written there.
    merge: bool,
    anchor: Option<AnchorStart>,
}

#[derive(Clone)]
struct Pending {
    path: String,
    merge: bool,
}

#[derive(Clone)]
struct Anchor {
    path: String,
    /// Its descendants: `entries[start..end]`.
    start: usize,
    end: usize,
    /// Nodes it expands to.
    size: u64,
}

struct Builder {
    index: PositionIndex,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchor>,
    /// Nodes met so far, aliases counted as the size of what they expand to.
    nodes: u64,
    node_cap: u64,
    /// Entries copied for aliases so far.
    copied: usize,
}

/// Where a node sits.
enum Slot {
    Root,
    /// A mapping key under the path; `true` inside a merge source.
    Key(String, bool),
    Value(Pending),
    Skipped,
}

impl Builder {
    /// Walks the first document, feeding every event to `tree` as well (which reads on to see
    /// whether another document follows); `None` when the event parser fails. Stops early
    /// once the node count passes the cap.
    fn run(&mut self, text: &str, tree: &mut Option<TreeBuilder>) -> Option<()> {
        let mut seen_document = false;
        let mut indexed = false;
        for item in Parser::new_from_str(text) {
            let (event, span) = item.ok()?;
            if let Some(t) = tree {
                if !t.event(&event) {
                    *tree = None;
                }
            }
            if indexed {
                if tree.is_none() {
                    break;
                }
                continue;
            }
            match event {
                Event::DocumentStart(_) => {
                    if seen_document {
                        indexed = true;
                        continue;
                    }
                    seen_document = true;
                }
                Event::DocumentEnd | Event::StreamEnd => {
                    if seen_document {
                        indexed = true;
                        continue;
                    }
                }
                Event::Scalar(value, _, anchor, _) => {
                    self.nodes = self.nodes.saturating_add(1);
                    self.scalar(&value, span, anchor);
                }
                Event::Alias(id) => {
                    let size = self.anchors.get(&id).map_or(1, |a| a.size);
                    self.nodes = self.nodes.saturating_add(size);
                    if self.nodes > self.node_cap {
                        *tree = None;
                        return Some(());
                    }
                    self.alias(id, span);
                }
                Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                    let is_map = matches!(event, Event::MappingStart(..));
                    self.nodes = self.nodes.saturating_add(1);
                    self.start_container(is_map, span, anchor);
                }
                Event::MappingEnd | Event::SequenceEnd => self.end_container(),
                Event::StreamStart | Event::Nothing => {}
            }
        }
        Some(())
    }

    fn scalar(&mut self, value: &str, span: Span, anchor: usize) {
        let mut anchor_path = String::new();
        // A mapping key (the common case): its path joins the parent's without copying it.
        let key_of = match self.stack.last() {
            Some(Frame {
                kind: FrameKind::Mapping { pending: None },
                path,
                merge,
                ..
            }) => Some(if value == "<<" {
                (path.clone(), true, *merge)
            } else {
                (join_key(path, value), false, *merge)
            }),
            _ => None,
        };
        if let Some((path, is_merge, in_merge)) = key_of {
            if !is_merge {
                self.record(&path, span, !in_merge);
            }
            self.set_pending(Pending {
                path,
                merge: is_merge,
            });
            if anchor > 0 {
                let end = self.index.entries.len();
                self.anchors.insert(
                    anchor,
                    Anchor {
                        path: String::new(),
                        start: end,
                        end,
                        size: 1,
                    },
                );
            }
            return;
        }
        match self.slot() {
            Slot::Key(parent, in_merge) => {
                let merge = value == "<<";
                let path = if merge {
                    parent
                } else {
                    join_key(&parent, value)
                };
                if !merge {
                    self.record(&path, span, !in_merge);
                }
                self.set_pending(Pending { path, merge });
            }
            Slot::Value(p) => {
                self.record(&p.path, span, false);
                anchor_path = p.path;
            }
            Slot::Root | Slot::Skipped => {}
        }
        if anchor > 0 {
            let end = self.index.entries.len();
            self.anchors.insert(
                anchor,
                Anchor {
                    path: anchor_path,
                    start: end,
                    end,
                    size: 1,
                },
            );
        }
    }

    fn alias(&mut self, id: usize, span: Span) {
        match self.slot() {
            Slot::Key(parent, _) => {
                // An aliased key: its text is not at hand, so its value is not tracked.
                self.set_pending(Pending {
                    path: join_key(&parent, "*"),
                    merge: false,
                });
            }
            Slot::Value(p) => {
                if !p.merge {
                    self.record(&p.path, span, false);
                }
                self.copy_anchor(id, &p.path, p.merge);
            }
            Slot::Root | Slot::Skipped => {}
        }
    }

    fn start_container(&mut self, is_map: bool, span: Span, anchor: usize) {
        let anchor = (anchor > 0).then(|| AnchorStart {
            id: anchor,
            entry: self.index.entries.len(),
            nodes: self.nodes - 1,
        });
        let (kind, path, merge) = match self.slot() {
            // A complex key (or a node inside one): not tracked.
            Slot::Skipped | Slot::Key(..) => (FrameKind::Skip, String::new(), false),
            slot => {
                let (path, merge) = match slot {
                    Slot::Value(p) => {
                        if !p.merge {
                            self.record(&p.path, span, false);
                        }
                        (p.path, p.merge)
                    }
                    _ => (String::new(), false),
                };
                let kind = if is_map {
                    FrameKind::Mapping { pending: None }
                } else {
                    FrameKind::Sequence { next: 0 }
                };
                (kind, path, merge)
            }
        };
        // The descendants start after the container's own entry.
        let anchor = anchor.map(|a| AnchorStart {
            entry: self.index.entries.len(),
            ..a
        });
        self.stack.push(Frame {
            kind,
            path,
            merge,
            anchor,
        });
    }

    /// Consumes the slot for the next node from the frame on top of the stack.
    fn slot(&mut self) -> Slot {
        let Some(frame) = self.stack.last_mut() else {
            return Slot::Root;
        };
        match &mut frame.kind {
            FrameKind::Skip => Slot::Skipped,
            FrameKind::Mapping { pending } => match pending.take() {
                None => Slot::Key(frame.path.clone(), frame.merge),
                Some(mut p) => {
                    p.merge |= frame.merge;
                    Slot::Value(p)
                }
            },
            FrameKind::Sequence { next } => {
                let slot = if frame.merge {
                    // `<<: [*a, *b]`: the items' keys belong to the enclosing mapping.
                    Pending {
                        path: frame.path.clone(),
                        merge: true,
                    }
                } else {
                    Pending {
                        path: join_index(&frame.path, *next),
                        merge: false,
                    }
                };
                *next += 1;
                Slot::Value(slot)
            }
        }
    }

    fn set_pending(&mut self, p: Pending) {
        if let Some(frame) = self.stack.last_mut() {
            if let FrameKind::Mapping { pending } = &mut frame.kind {
                *pending = Some(Pending {
                    merge: p.merge || frame.merge,
                    path: p.path,
                });
            }
        }
    }

    fn end_container(&mut self) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        if let Some(a) = frame.anchor {
            self.anchors.insert(
                a.id,
                Anchor {
                    path: frame.path,
                    start: a.entry,
                    end: self.index.entries.len(),
                    size: self.nodes.saturating_sub(a.nodes),
                },
            );
        }
        if matches!(frame.kind, FrameKind::Skip) {
            // A complex key ended: its value is not tracked either.
            if let Some(parent) = self.stack.last_mut() {
                if let FrameKind::Mapping { pending } = &mut parent.kind {
                    *pending = Some(Pending {
                        path: join_key(&parent.path, "?"),
                        merge: false,
                    });
                }
            }
        }
    }

    fn record(&mut self, path: &str, span: Span, overwrite: bool) {
        self.index.insert(
            path.to_string(),
            span.start.line(),
            span.start.col() + 1,
            overwrite,
        );
    }

    /// Gives the descendants of anchor `id` their paths under `target`, keeping the positions
    /// where they were written.
    fn copy_anchor(&mut self, id: usize, target: &str, merge: bool) {
        let Some(anchor) = self.anchors.get(&id).cloned() else {
            return;
        };
        if self.copied + (anchor.end - anchor.start) > MAX_COPIED {
            return;
        }
        self.copied += anchor.end - anchor.start;
        for i in anchor.start..anchor.end {
            let Some((path, &(line, column))) = self.index.entries.get_index(i) else {
                break;
            };
            let Some(suffix) = path.strip_prefix(anchor.path.as_str()) else {
                continue;
            };
            let new_path = if target.is_empty() {
                suffix.trim_start_matches('.').to_string()
            } else {
                format!("{target}{suffix}")
            };
            self.index.insert(new_path, line, column, !merge);
        }
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

    /// The location of `path`, or of its nearest ancestor that has one. An exact match in any
    /// file beats an ancestor's; among files, the later one wins.
    pub fn locate(&self, path: &str) -> Option<Location> {
        let mut current = Some(path);
        while let Some(p) = current {
            if let Some(loc) = self.indexes.iter().rev().find_map(|i| i.get_exact(p)) {
                return Some(loc);
            }
            current = parent_path(p);
        }
        None
    }

    /// A [`Place`] for `path`, located when possible.
    pub fn place(&self, path: &str) -> Place {
        Place::at(path, self.locate(path))
    }
}

#[cfg(test)]
mod tests;
