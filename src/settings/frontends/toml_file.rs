//! Our own config file: TOML whose keys are the settings' names. Relative paths in it are
//! relative to the file's directory, so it means the same from wherever it is read.

use super::FileLayer;
use crate::settings::{ConfigError, Layer};
use std::path::Path;

/// Reads and parses the file; unknown keys are errors naming the key and line.
pub fn read(path: &Path) -> Result<FileLayer, ConfigError> {
    let file_error = |message: String| ConfigError::File {
        path: path.to_owned(),
        message,
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| file_error(format!("cannot read it: {e}")))?;
    let mut layer: Layer =
        toml::from_str(&text).map_err(|e| file_error(e.to_string().trim_end().to_owned()))?;
    layer.absolutize(path.parent().unwrap_or(Path::new("/")));
    Ok(FileLayer {
        layer,
        warnings: Vec::new(),
        labels: Default::default(),
        inherited: Default::default(),
    })
}
