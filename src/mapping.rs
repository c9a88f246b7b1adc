//! Folder name mapping (to be written).
