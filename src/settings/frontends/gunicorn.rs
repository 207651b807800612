//! gunicorn's command line: its spellings and the flags we refuse ([`accept_cli`]), and
//! `GUNICORN_CMD_ARGS` ([`env_args`]). Its config file is [`super::gunicorn_file`]'s.
//!
//! Most gunicorn flags are ours already (same spelling, same meaning: `settings!` declares
//! gunicorn's spellings as aliases where ours differ). What is left here is what cannot be
//! an alias: flags that set a value by their presence (`--no-sendfile`), and the settings
//! refused, each with the reason and what to do instead.

use crate::settings::{Cli, ConfigError, clap_error};
use std::collections::BTreeMap;
use std::ffi::OsString;

/// The variable gunicorn reads extra command-line arguments from.
pub const CMD_ARGS_ENV: &str = "GUNICORN_CMD_ARGS";

/// A gunicorn setting rsgi-server refuses, with why and what to use instead.
#[derive(Debug)]
pub struct Refused {
    /// gunicorn's config-file name.
    pub name: &'static str,
    /// Its flag.
    pub flag: &'static str,
    /// Whether the flag takes no value (gunicorn's `store_true`).
    pub switch: bool,
    /// gunicorn's default, as written on its command line: setting it to that is harmless
    /// and accepted.
    pub default: &'static str,
    /// Why it is refused and what to do instead.
    pub reason: &'static str,
}

const HTTP2: &str = "HTTP/2 is not served yet: rsgi-server speaks HTTP/1.1 (HTTP/2 clients \
                     are served by a proxy in front, e.g. nginx or HAProxy)";
const ASGI: &str = "rsgi-server serves WSGI applications only; ASGI applications need an ASGI \
                    server (uvicorn, granian, hypercorn)";
const DIRTY: &str = "gunicorn's dirty arbiters (beta) have no equivalent here: run long jobs \
                     in a task queue (Celery, RQ) or a separate rsgi-server instance";

/// The gunicorn settings refused, by flag.
pub const REFUSED: &[Refused] = &[
    Refused {
        name: "http_protocols",
        flag: "--http-protocols",
        switch: false,
        default: "h1",
        reason: HTTP2,
    },
    Refused {
        name: "http2_cleartext",
        flag: "--http2-cleartext",
        switch: false,
        default: "off",
        reason: HTTP2,
    },
    Refused {
        name: "http2_max_concurrent_streams",
        flag: "--http2-max-concurrent-streams",
        switch: false,
        default: "100",
        reason: HTTP2,
    },
    Refused {
        name: "http2_initial_window_size",
        flag: "--http2-initial-window-size",
        switch: false,
        default: "65535",
        reason: HTTP2,
    },
    Refused {
        name: "http2_max_frame_size",
        flag: "--http2-max-frame-size",
        switch: false,
        default: "16384",
        reason: HTTP2,
    },
    Refused {
        name: "http2_max_header_list_size",
        flag: "--http2-max-header-list-size",
        switch: false,
        default: "65536",
        reason: HTTP2,
    },
    Refused {
        name: "asgi_loop",
        flag: "--asgi-loop",
        switch: false,
        default: "auto",
        reason: ASGI,
    },
    Refused {
        name: "asgi_lifespan",
        flag: "--asgi-lifespan",
        switch: false,
        default: "auto",
        reason: ASGI,
    },
    Refused {
        name: "asgi_disconnect_grace_period",
        flag: "--asgi-disconnect-grace-period",
        switch: false,
        default: "3",
        reason: ASGI,
    },
    Refused {
        name: "websocket_max_message_size",
        flag: "--websocket-max-message-size",
        switch: false,
        default: "16777216",
        reason: ASGI,
    },
    Refused {
        name: "dirty_apps",
        flag: "--dirty-app",
        switch: false,
        default: "",
        reason: DIRTY,
    },
    Refused {
        name: "dirty_workers",
        flag: "--dirty-workers",
        switch: false,
        default: "0",
        reason: DIRTY,
    },
    Refused {
        name: "dirty_timeout",
        flag: "--dirty-timeout",
        switch: false,
        default: "300",
        reason: DIRTY,
    },
    Refused {
        name: "dirty_threads",
        flag: "--dirty-threads",
        switch: false,
        default: "1",
        reason: DIRTY,
    },
    Refused {
        name: "dirty_graceful_timeout",
        flag: "--dirty-graceful-timeout",
        switch: false,
        default: "30",
        reason: DIRTY,
    },
    Refused {
        name: "logger_class",
        flag: "--logger-class",
        switch: false,
        default: "gunicorn.glogging.Logger",
        reason: "rsgi-server writes its logs itself, in Rust, so a Python logger class cannot \
                 replace it; route them with --log-config, --log-config-json or \
                 logconfig_dict, --log-syslog, or --log-format json",
    },
];

/// Flags gunicorn spells as a presence that sets a value, and how ours say it.
const SWITCHES: &[(&str, &str)] = &[
    ("--no-sendfile", "--sendfile=false"),
    ("--no-control-socket", "--control-socket-disable=true"),
];

/// Translates gunicorn's spellings that cannot be clap aliases on a command line (`args`,
/// the program name first), and refuses the flags of [`REFUSED`] unless given gunicorn's
/// default. Everything after `--` is left alone.
pub fn accept_cli(args: Vec<OsString>) -> Result<Vec<OsString>, ConfigError> {
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            out.push(arg);
            out.extend(iter);
            break;
        }
        let (flag, inline) = match text.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_owned())),
            None => (text, None),
        };
        if let Some((_, ours)) = SWITCHES.iter().find(|(theirs, _)| *theirs == flag) {
            out.push(OsString::from(*ours));
            continue;
        }
        if flag == "--proxy-protocol" {
            // gunicorn's optional value may be the next word (`--proxy-protocol v2`); ours
            // is written `--proxy-protocol=v2`, so a bare word is taken only when it is a
            // mode, as gunicorn's parser would.
            let next = iter.as_slice().first().and_then(|n| n.to_str());
            let value = match (&inline, next.and_then(proxy_protocol_mode)) {
                (Some(value), _) => proxy_protocol_mode(value).unwrap_or(value),
                (None, Some(mode)) => {
                    iter.next();
                    mode
                }
                (None, None) => "auto",
            };
            out.push(OsString::from(format!("--proxy-protocol={value}")));
            continue;
        }
        let Some(refused) = REFUSED.iter().find(|r| r.flag == flag) else {
            out.push(arg);
            continue;
        };
        let value = match (refused.switch, inline) {
            (true, _) => "true".to_owned(),
            (false, Some(value)) => value,
            (false, None) => iter
                .next()
                .map(|v| v.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        if refused.switch || value != refused.default {
            return Err(refusal(refused.flag, &value, refused));
        }
    }
    Ok(out)
}

/// gunicorn's spellings of a PROXY protocol mode (`validate_proxy_protocol`), as ours.
pub fn proxy_protocol_mode(value: &str) -> Option<&'static str> {
    Some(match value.trim().to_ascii_lowercase().as_str() {
        "false" | "off" | "0" | "none" => "off",
        "true" | "auto" | "1" => "auto",
        "v1" => "v1",
        "v2" => "v2",
        _ => return None,
    })
}

/// The error for a refused setting, as the user wrote it (`option`).
pub fn refusal(option: &str, value: &str, refused: &Refused) -> ConfigError {
    ConfigError::Invalid {
        option: option.to_owned(),
        value: value.to_owned(),
        allowed: format!("not supported: {}", refused.reason),
    }
}

/// Parses `GUNICORN_CMD_ARGS` as gunicorn does (split like a POSIX shell, then read as
/// command-line arguments); `None` when unset or empty.
pub fn env_args(env: &BTreeMap<String, String>) -> Result<Option<Cli>, ConfigError> {
    let Some(text) = env.get(CMD_ARGS_ENV).filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let words = split_shell_words(text).map_err(|why| ConfigError::Invalid {
        option: CMD_ARGS_ENV.to_owned(),
        value: text.clone(),
        allowed: why,
    })?;
    let args = std::iter::once(OsString::from("rsgi-server"))
        .chain(words.into_iter().map(OsString::from))
        .collect();
    let args = accept_cli(args).map_err(in_env)?;
    let cli =
        <Cli as clap::Parser>::try_parse_from(args).map_err(|e| in_env(clap_error(e, None)))?;
    Ok(Some(cli))
}

/// Says that an error's option was written in `GUNICORN_CMD_ARGS`.
fn in_env(err: ConfigError) -> ConfigError {
    match err {
        ConfigError::Invalid {
            option,
            value,
            allowed,
        } => ConfigError::Invalid {
            option: format!("{option} (in {CMD_ARGS_ENV})"),
            value,
            allowed,
        },
        ConfigError::Cli(e) => ConfigError::Invalid {
            option: CMD_ARGS_ENV.to_owned(),
            value: String::new(),
            allowed: e.to_string().lines().next().unwrap_or_default().to_owned(),
        },
        other => other,
    }
}

/// Splits `text` into words as a POSIX shell (and Python's `shlex.split`) does: blanks
/// separate words, single quotes keep everything, double quotes keep everything but `\"`,
/// `\\`, `\$` and `` \` ``, and a backslash outside quotes escapes the next character.
pub fn split_shell_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("a quote (') is not closed".to_owned()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err("a quote (\") is not closed".to_owned()),
                        },
                        Some(c) => w.push(c),
                        None => return Err("a quote (\") is not closed".to_owned()),
                    }
                }
            }
            '\\' => match chars.next() {
                Some(c) => word.get_or_insert_with(String::new).push(c),
                None => return Err("it ends with a backslash".to_owned()),
            },
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every flag of gunicorn 27 (`gunicorn.config.KNOWN_SETTINGS`), and whether it takes
    /// no value.
    const GUNICORN_FLAGS: &[(&str, bool)] = &[
        ("-c", false),
        ("--config", false),
        ("-b", false),
        ("--bind", false),
        ("--backlog", false),
        ("-w", false),
        ("--workers", false),
        ("-k", false),
        ("--worker-class", false),
        ("--threads", false),
        ("--worker-connections", false),
        ("--max-requests", false),
        ("--max-requests-jitter", false),
        ("-t", false),
        ("--timeout", false),
        ("--graceful-timeout", false),
        ("--keep-alive", false),
        ("--limit-request-line", false),
        ("--limit-request-fields", false),
        ("--limit-request-field_size", false),
        ("--reload", true),
        ("--reload-engine", false),
        ("--reload-extra-file", false),
        ("--spew", true),
        ("--check-config", true),
        ("--print-config", true),
        ("--preload", true),
        ("--no-sendfile", true),
        ("--reuse-port", true),
        ("--chdir", false),
        ("-D", true),
        ("--daemon", true),
        ("-e", false),
        ("--env", false),
        ("-p", false),
        ("--pid", false),
        ("--worker-tmp-dir", false),
        ("-u", false),
        ("--user", false),
        ("-g", false),
        ("--group", false),
        ("-m", false),
        ("--umask", false),
        ("--initgroups", true),
        ("--forwarded-allow-ips", false),
        ("--access-logfile", false),
        ("--disable-redirect-access-to-syslog", true),
        ("--access-logformat", false),
        ("--error-logfile", false),
        ("--log-file", false),
        ("--log-level", false),
        ("--capture-output", true),
        ("--logger-class", false),
        ("--log-config", false),
        ("--log-config-json", false),
        ("--log-syslog-to", false),
        ("--log-syslog", true),
        ("--log-syslog-prefix", false),
        ("--log-syslog-facility", false),
        ("-R", true),
        ("--enable-stdio-inheritance", true),
        ("--statsd-host", false),
        ("--dogstatsd-tags", false),
        ("--statsd-prefix", false),
        ("--enable-backlog-metric", true),
        ("-n", false),
        ("--name", false),
        ("--pythonpath", false),
        ("--paste", false),
        ("--paster", false),
        ("--proxy-protocol", false),
        ("--proxy-allow-from", false),
        ("--protocol", false),
        ("--uwsgi-allow-from", false),
        ("--keyfile", false),
        ("--certfile", false),
        ("--ssl-version", false),
        ("--cert-reqs", false),
        ("--ca-certs", false),
        ("--suppress-ragged-eofs", true),
        ("--do-handshake-on-connect", true),
        ("--ciphers", false),
        ("--http-protocols", false),
        ("--http2-cleartext", false),
        ("--http2-max-concurrent-streams", false),
        ("--http2-initial-window-size", false),
        ("--http2-max-frame-size", false),
        ("--http2-max-header-list-size", false),
        ("--paste-global", false),
        ("--permit-obsolete-folding", true),
        ("--strip-header-spaces", true),
        ("--permit-unconventional-http-method", true),
        ("--permit-unconventional-http-version", true),
        ("--casefold-http-method", true),
        ("--forwarder-headers", false),
        ("--header-map", false),
        ("--asgi-loop", false),
        ("--asgi-lifespan", false),
        ("--asgi-disconnect-grace-period", false),
        ("--websocket-max-message-size", false),
        ("--http-parser", false),
        ("--root-path", false),
        ("--dirty-app", false),
        ("--dirty-workers", false),
        ("--dirty-timeout", false),
        ("--dirty-threads", false),
        ("--dirty-graceful-timeout", false),
        ("--control-socket", false),
        ("--control-socket-mode", false),
        ("--no-control-socket", true),
    ];

    /// Each of gunicorn's flags is understood: taken, or refused by name, never an
    /// "unexpected argument".
    #[test]
    fn every_gunicorn_flag_is_understood() {
        assert_eq!(GUNICORN_FLAGS.len(), 110);
        for (flag, switch) in GUNICORN_FLAGS {
            let mut args = vec![OsString::from("rsgi-server"), OsString::from(*flag)];
            if !switch {
                args.push(OsString::from("1"));
            }
            args.push(OsString::from("app"));
            let parsed = accept_cli(args).and_then(|args| {
                <Cli as clap::Parser>::try_parse_from(args).map_err(|e| clap_error(e, None))
            });
            if let Err(ConfigError::Cli(e)) = &parsed {
                assert_ne!(
                    e.kind(),
                    clap::error::ErrorKind::UnknownArgument,
                    "{flag}: {e}"
                );
            }
        }
    }

    #[test]
    fn shell_words_split_like_shlex() {
        let split = |s| split_shell_words(s).expect("splits");
        assert_eq!(
            split("-w 4  --bind=0.0.0.0:80"),
            ["-w", "4", "--bind=0.0.0.0:80"]
        );
        assert_eq!(
            split(r#"--access-logformat '%(h)s "%(r)s"' -e A="b c" x\ y"#),
            [
                "--access-logformat",
                r#"%(h)s "%(r)s""#,
                "-e",
                "A=b c",
                "x y"
            ]
        );
        assert_eq!(split(r#""a\"b\n""#), [r#"a"b\n"#]);
        assert_eq!(split("''"), [""]);
        assert!(split_shell_words("'open").is_err());
    }

    #[test]
    fn proxy_protocol_takes_gunicorns_optional_value() {
        let args = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
        let accepted = |list: &[&str]| accept_cli(args(list)).expect("accepted");
        assert_eq!(
            accepted(&["x", "--proxy-protocol", "v2", "app"]),
            args(&["x", "--proxy-protocol=v2", "app"])
        );
        assert_eq!(
            accepted(&["x", "--proxy-protocol", "app"]),
            args(&["x", "--proxy-protocol=auto", "app"])
        );
        assert_eq!(
            accepted(&["x", "--proxy-protocol=TRUE", "app"]),
            args(&["x", "--proxy-protocol=auto", "app"])
        );
        assert_eq!(
            accepted(&["x", "--proxy-protocol", "none"]),
            args(&["x", "--proxy-protocol=off"])
        );
    }

    #[test]
    fn refused_flags_name_the_reason_unless_default() {
        let args = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            accept_cli(args(&["x", "--http-protocols", "h1", "app"])).expect("default is fine"),
            args(&["x", "app"])
        );
        match accept_cli(args(&["x", "--dirty-workers=2"])) {
            Err(ConfigError::Invalid {
                option,
                value,
                allowed,
            }) => {
                assert_eq!((option.as_str(), value.as_str()), ("--dirty-workers", "2"));
                assert!(allowed.contains("dirty arbiters"), "{allowed}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(
            accept_cli(args(&["x", "--no-sendfile", "--", "--no-sendfile"])).expect("ok"),
            args(&["x", "--sendfile=false", "--", "--no-sendfile"])
        );
    }
}
