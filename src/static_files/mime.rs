//! Content types by file extension: the types browsers and CDNs act on (scripts, styles,
//! fonts, images, media, documents, web manifests), after nginx's `mime.types` and the
//! IANA registry, with `charset=utf-8` on text types so browsers never guess an encoding.

use std::borrow::Cow;

/// Extension (lower case) → type, sorted by extension for a binary search.
const TYPES: &[(&str, &str)] = &[
    ("7z", "application/x-7z-compressed"),
    ("aac", "audio/aac"),
    ("apng", "image/apng"),
    ("atom", "application/atom+xml"),
    ("avif", "image/avif"),
    ("bin", "application/octet-stream"),
    ("bmp", "image/bmp"),
    ("bz2", "application/x-bzip2"),
    ("cjs", "text/javascript"),
    ("css", "text/css"),
    ("csv", "text/csv"),
    ("doc", "application/msword"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("eot", "application/vnd.ms-fontobject"),
    ("epub", "application/epub+zip"),
    ("flac", "audio/flac"),
    ("gif", "image/gif"),
    ("gz", "application/gzip"),
    ("htm", "text/html"),
    ("html", "text/html"),
    ("ico", "image/vnd.microsoft.icon"),
    ("ics", "text/calendar"),
    ("jpeg", "image/jpeg"),
    ("jpg", "image/jpeg"),
    ("js", "text/javascript"),
    ("json", "application/json"),
    ("jsonld", "application/ld+json"),
    ("jxl", "image/jxl"),
    ("m4a", "audio/mp4"),
    ("m4v", "video/mp4"),
    ("manifest", "text/cache-manifest"),
    ("map", "application/json"),
    ("md", "text/markdown"),
    ("mjs", "text/javascript"),
    ("mov", "video/quicktime"),
    ("mp3", "audio/mpeg"),
    ("mp4", "video/mp4"),
    ("mpeg", "video/mpeg"),
    ("oga", "audio/ogg"),
    ("ogg", "audio/ogg"),
    ("ogv", "video/ogg"),
    ("opus", "audio/opus"),
    ("otf", "font/otf"),
    ("pdf", "application/pdf"),
    ("png", "image/png"),
    ("ppt", "application/vnd.ms-powerpoint"),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("rss", "application/rss+xml"),
    ("rtf", "application/rtf"),
    ("svg", "image/svg+xml"),
    ("svgz", "image/svg+xml"),
    ("tar", "application/x-tar"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("ttf", "font/ttf"),
    ("txt", "text/plain"),
    ("vtt", "text/vtt"),
    ("wasm", "application/wasm"),
    ("wav", "audio/wav"),
    ("weba", "audio/webm"),
    ("webm", "video/webm"),
    ("webmanifest", "application/manifest+json"),
    ("webp", "image/webp"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("xhtml", "application/xhtml+xml"),
    ("xls", "application/vnd.ms-excel"),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("xml", "text/xml"),
    ("yaml", "application/yaml"),
    ("yml", "application/yaml"),
    ("zip", "application/zip"),
    ("zst", "application/zstd"),
];

/// What a file of unknown type is sent as: bytes, never something a browser renders.
const UNKNOWN: &str = "application/octet-stream";

/// The `Content-Type` for a file named `name`: its type, with `; charset=utf-8` for text
/// (and the JSON, XML and JavaScript types that are text in practice).
pub fn content_type(name: &str) -> Cow<'static, str> {
    // The extension, lower-cased on the stack: longer ones are in no table.
    let ext = name.rsplit_once('.').map_or("", |(_, ext)| ext);
    let mut lower = [0u8; 16];
    let found = match lower.get_mut(..ext.len()) {
        Some(lower) => {
            lower.copy_from_slice(ext.as_bytes());
            lower.make_ascii_lowercase();
            let ext = std::str::from_utf8(lower).unwrap_or_default();
            TYPES
                .binary_search_by(|(e, _)| (*e).cmp(ext))
                .map_or(UNKNOWN, |i| TYPES[i].1)
        }
        None => UNKNOWN,
    };
    if is_text(found) {
        Cow::Owned(format!("{found}; charset=utf-8"))
    } else {
        Cow::Borrowed(found)
    }
}

/// Whether a type is text a browser decodes with a charset.
fn is_text(mime: &str) -> bool {
    mime.starts_with("text/")
        || matches!(
            mime,
            "application/json"
                | "application/ld+json"
                | "application/manifest+json"
                | "application/xhtml+xml"
                | "application/atom+xml"
                | "application/rss+xml"
                | "application/yaml"
                | "image/svg+xml"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_unique() {
        assert!(TYPES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn text_types_name_their_charset() {
        assert_eq!(content_type("site.CSS"), "text/css; charset=utf-8");
        assert_eq!(
            content_type("app.3f2a.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("logo.png"), "image/png");
        assert_eq!(content_type("font.woff2"), "font/woff2");
        assert_eq!(content_type("README"), "application/octet-stream");
        assert_eq!(content_type("x.unknown"), "application/octet-stream");
    }
}
