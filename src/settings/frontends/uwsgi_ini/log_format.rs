//! uWSGI's `log-format` variables translated into gunicorn's access log atoms
//! (`--access-log-format`), where an atom means the same thing.

/// Each uWSGI variable and the atom that logs the same value.
const VARIABLES: &[(&str, &str)] = &[
    ("method", "%(m)s"),
    ("uri", "%({RAW_URI}e)s"),
    ("proto", "%(H)s"),
    ("status", "%(s)s"),
    ("addr", "%(h)s"),
    ("user", "%(u)s"),
    ("host", "%({Host}i)s"),
    ("uagent", "%(a)s"),
    ("referer", "%(f)s"),
    ("cl", "%({Content-Length}i)s"),
    // uWSGI counts the response head's bytes in `size` too; we count the body only.
    ("size", "%(B)s"),
    ("rsize", "%(B)s"),
    ("msecs", "%(M)s"),
    ("micros", "%(D)s"),
    ("secs", "%(L)s"),
    ("ltime", "%(t)s"),
    ("pid", "%(p)s"),
];

/// Translates a uWSGI log format; `Err` names the variables that have no equivalent.
pub fn translate(format: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut missing = Vec::new();
    // gunicorn's time atom brings its own brackets; uWSGI's ltime is written in them.
    let format = format.replace("[%(ltime)]", "%(ltime)");
    let mut rest = format.as_str();
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let Some((name, tail)) = after
            .strip_prefix('(')
            .and_then(|inner| inner.split_once(')'))
        else {
            out.push_str("%%");
            rest = after;
            continue;
        };
        rest = tail;
        if let Some(var) = name.strip_prefix("var.") {
            out.push_str(&format!("%({{{var}}}e)s"));
        } else if let Some((_, atom)) = VARIABLES.iter().find(|(v, _)| *v == name) {
            out.push_str(atom);
        } else {
            missing.push(format!("%({name})"));
        }
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(format!(
            "{} cannot be logged here; the variables translated are {}, and %(var.NAME)",
            missing.join(", "),
            VARIABLES
                .iter()
                .map(|(v, _)| format!("%({v})"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_the_common_variables() {
        assert_eq!(
            translate(r#"%(addr) - [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(size) 100%"#)
                .as_deref(),
            Ok(r#"%(h)s - %(t)s "%(m)s %({RAW_URI}e)s %(H)s" %(s)s %(B)s 100%%"#)
        );
        assert_eq!(
            translate("%(var.HTTP_X_ID) %(msecs)ms").as_deref(),
            Ok("%({HTTP_X_ID}e)s %(M)sms")
        );
    }

    #[test]
    fn names_what_it_cannot_translate() {
        let err = translate("%(wid) %(status) %(rssM)").expect_err("untranslatable");
        assert!(err.starts_with("%(wid), %(rssM) cannot be logged"), "{err}");
    }
}
