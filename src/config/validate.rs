//! Checks raw [`Settings`] and turns them into a typed [`Config`], and back (for
//! `--print-config`).
//!
//! This file knows what each value means and which values are allowed. It does not know
//! where a value came from: the caller passes a function naming the source of each setting
//! (`--workers`, `RSGI_WORKERS`, `workers (in rsgi.toml)`) for the error messages.

use super::settings::Settings;
use super::{
    BindAddr, CertReqs, Config, ConfigError, LogFormat, LogLevel, LogTarget, Sources, TlsVersion,
};
use nix::unistd::Uid;
use std::path::PathBuf;
use std::time::Duration;

/// Names where a setting's value came from, for error messages.
pub(super) type Label<'a> = &'a dyn Fn(&str) -> String;

/// Checks every setting and builds the [`Config`] (with empty sources and no config file;
/// the caller fills those in). `require_app` is false only for `--print-config`.
pub(super) fn validate(
    s: Settings,
    label: Label<'_>,
    require_app: bool,
) -> Result<Config, ConfigError> {
    let invalid = |name: &str, value: &dyn std::fmt::Display, allowed: &str| ConfigError::Invalid {
        option: label(name),
        value: value.to_string(),
        allowed: allowed.to_owned(),
    };

    let app = match s.app {
        Some(app) => check_app(&app).map_err(|allowed| invalid("app", &app, &allowed))?,
        None if require_app => {
            return Err(ConfigError::Missing(
                "the application to serve (APP, e.g. myproject.wsgi:application)",
            ));
        }
        None => String::new(),
    };

    let binds = s.bind.unwrap_or_default();
    if binds.is_empty() {
        return Err(invalid("bind", &"[]", "at least one address"));
    }
    let binds = binds
        .iter()
        .map(|b| {
            b.parse::<BindAddr>()
                .map_err(|why| invalid("bind", b, &why))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let workers = in_range(s.workers, 1, 1024, "workers", &invalid)? as u32;
    let threads = in_range(s.threads, 1, 1024, "threads", &invalid)? as u32;
    let worker_connections = in_range(
        s.worker_connections,
        1,
        1_000_000,
        "worker_connections",
        &invalid,
    )? as u32;

    let chdir = match s.chdir {
        Some(dir) if dir.is_dir() => Some(dir),
        Some(dir) => {
            return Err(invalid("chdir", &dir.display(), "an existing directory"));
        }
        None => None,
    };

    let pythonpath: Vec<PathBuf> = s
        .pythonpath
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !p.as_os_str().is_empty())
        .collect();

    let env = s
        .env
        .unwrap_or_default()
        .iter()
        .map(|kv| check_env(kv).map_err(|why| invalid("env", kv, why)))
        .collect::<Result<Vec<_>, _>>()?;

    let root_path = s.root_path.unwrap_or_default();
    if !(root_path.is_empty() || (root_path.starts_with('/') && !root_path.ends_with('/'))) {
        return Err(invalid(
            "root_path",
            &root_path,
            "empty, or a path starting with '/' and not ending with '/' (e.g. /app)",
        ));
    }

    let timeout = in_range(s.timeout, 0, i64::MAX, "timeout", &invalid)?;
    let header_timeout = in_range(s.header_timeout, 0, i64::MAX, "header_timeout", &invalid)?;
    let body_timeout = in_range(s.body_timeout, 0, i64::MAX, "body_timeout", &invalid)?;
    let send_timeout = in_range(s.send_timeout, 0, i64::MAX, "send_timeout", &invalid)?;
    let graceful_timeout = in_range(
        s.graceful_timeout,
        0,
        i64::MAX,
        "graceful_timeout",
        &invalid,
    )?;
    let keep_alive = in_range(s.keep_alive, 0, i64::MAX, "keep_alive", &invalid)?;
    let backlog = in_range(s.backlog, 1, 65535, "backlog", &invalid)? as i32;
    let body_buffer_size = in_range(
        s.body_buffer_size,
        0,
        i64::from(u32::MAX),
        "body_buffer_size",
        &invalid,
    )? as u64;
    let limit_request_body = in_range(
        s.limit_request_body,
        0,
        i64::MAX,
        "limit_request_body",
        &invalid,
    )? as u64;

    // -- issue 5: strict --
    let http_limits = http_limits(
        [
            s.limit_request_line,
            s.limit_request_fields,
            s.limit_request_field_size,
            s.limit_request_head,
            s.limit_chunk_ext_size,
            s.limit_trailer_size,
        ],
        &invalid,
    )?;

    let tmp_upload_dir = match s.tmp_upload_dir {
        Some(dir) if dir.is_dir() => Some(dir),
        Some(dir) => {
            return Err(invalid(
                "tmp_upload_dir",
                &dir.display(),
                "an existing directory",
            ));
        }
        None => None,
    };

    let virtualenv = match s.virtualenv {
        Some(dir) if !dir.is_dir() => {
            return Err(invalid(
                "virtualenv",
                &dir.display(),
                "an existing virtual environment directory (containing pyvenv.cfg)",
            ));
        }
        Some(dir) if !dir.join("pyvenv.cfg").is_file() => {
            return Err(invalid(
                "virtualenv",
                &dir.display(),
                "a virtual environment directory, but it has no pyvenv.cfg",
            ));
        }
        other => other,
    };

    let unix_socket_mode = match s.unix_socket_mode {
        Some(mode) => Some(parse_mode(&mode).ok_or_else(|| {
            invalid(
                "unix_socket_mode",
                &mode,
                "octal permission bits from 0 to 777, e.g. 660",
            )
        })?),
        None => None,
    };

    let level = s.log_level.unwrap_or_default();
    let log_level = level.parse::<LogLevel>().map_err(|_| {
        invalid(
            "log_level",
            &level,
            "one of debug, info, warning, error, critical",
        )
    })?;

    // -- issue 4: supervisor --
    let max_requests = in_range(s.max_requests, 0, i64::MAX, "max_requests", &invalid)? as u64;
    let max_requests_jitter = in_range(
        s.max_requests_jitter,
        0,
        i64::MAX,
        "max_requests_jitter",
        &invalid,
    )? as u64;
    let max_worker_lifetime = in_range(
        s.max_worker_lifetime,
        0,
        i64::MAX,
        "max_worker_lifetime",
        &invalid,
    )?;
    let max_worker_lifetime_jitter = in_range(
        s.max_worker_lifetime_jitter,
        0,
        i64::MAX,
        "max_worker_lifetime_jitter",
        &invalid,
    )?;
    // MiB; the upper bound keeps the byte count in range.
    let max_worker_memory = in_range(
        s.max_worker_memory,
        0,
        i64::MAX >> 20,
        "max_worker_memory",
        &invalid,
    )? as u64;
    // -- issue 4: hygiene --
    let (user, group) = resolve_owner(s.user.as_deref(), s.group.as_deref(), &invalid)?;
    let initgroups = s.initgroups.unwrap_or(false);
    if let (true, Some(uid)) = (initgroups, user) {
        // initgroups(3) needs the user's name; refuse now rather than fail after binding.
        if matches!(nix::unistd::User::from_uid(Uid::from_raw(uid)), Ok(None)) {
            return Err(invalid(
                "initgroups",
                &"true",
                "a --user with a passwd entry (initgroups looks the user's groups up by name)",
            ));
        }
    }
    let umask = match s.umask {
        Some(mask) => Some(parse_mode(&mask).ok_or_else(|| {
            invalid(
                "umask",
                &mask,
                "octal permission bits from 0 to 777, e.g. 027",
            )
        })?),
        None => None,
    };
    let proc_name = match s.proc_name {
        Some(name) if name.is_empty() || name.contains(['\0', '\n']) => {
            return Err(invalid(
                "proc_name",
                &name,
                "a non-empty name without NUL bytes or newlines",
            ));
        }
        other => other,
    };
    // -- issue 4: logging --
    let error_logfile = s.error_logfile.filter(|f| f.as_os_str() != "-");
    let access_logfile = s.access_logfile.map(|f| {
        if f.as_os_str() == "-" {
            LogTarget::Stdout
        } else {
            LogTarget::File(f)
        }
    });
    let not_a_file = |name: &str, file: &PathBuf| {
        (file.as_os_str().is_empty() || file.is_dir()).then(|| {
            invalid(
                name,
                &file.display(),
                "a file path, or - for the standard stream",
            )
        })
    };
    if let Some(err) = error_logfile
        .as_ref()
        .and_then(|f| not_a_file("error_logfile", f))
    {
        return Err(err);
    }
    if let Some(LogTarget::File(f)) = &access_logfile {
        if let Some(err) = not_a_file("access_logfile", f) {
            return Err(err);
        }
    }
    let access_log_format = s.access_log_format.unwrap_or_default();
    if let Err(why) = crate::logging::access::Format::compile(&access_log_format, &[]) {
        return Err(invalid("access_log_format", &access_log_format, &why));
    }
    let format_name = s.log_format.unwrap_or_default();
    let log_format = match format_name.to_ascii_lowercase().as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        _ => return Err(invalid("log_format", &format_name, "text or json")),
    };

    // -- issue 4: python --
    let hooks = match s.hooks.filter(|h| !h.is_empty()) {
        Some(h) if hooks_is_file(&h) && !std::path::Path::new(&h).is_file() => {
            return Err(invalid(
                "hooks",
                &h,
                "an existing .py file or a dotted module name (e.g. myproj.hooks)",
            ));
        }
        Some(h) if !hooks_is_file(&h) && !is_dotted_name(&h) => {
            return Err(invalid(
                "hooks",
                &h,
                "a dotted module name (e.g. myproj.hooks) or a path to a .py file",
            ));
        }
        other => other,
    };

    // -- issue 5: tls --
    let certfile = s.certfile.filter(|f| !f.as_os_str().is_empty());
    let keyfile = s.keyfile.filter(|f| !f.as_os_str().is_empty());
    let ca_certs = s.ca_certs.filter(|f| !f.as_os_str().is_empty());
    match (&certfile, &keyfile) {
        (Some(_), None) => {
            return Err(invalid(
                "keyfile",
                &"(none)",
                "the private key of --certfile: TLS needs both files",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                "certfile",
                &"(none)",
                "the certificate chain of --keyfile: TLS needs both files",
            ));
        }
        _ => {}
    }
    let reqs = s.cert_reqs.unwrap_or_default();
    let cert_reqs = match reqs.trim().to_ascii_lowercase().as_str() {
        "none" | "0" | "cert_none" => CertReqs::None,
        "optional" | "1" | "cert_optional" => CertReqs::Optional,
        "required" | "2" | "cert_required" => CertReqs::Required,
        _ => {
            return Err(invalid(
                "cert_reqs",
                &reqs,
                "none, optional or required (or gunicorn's 0, 1, 2)",
            ));
        }
    };
    if cert_reqs != CertReqs::None {
        if certfile.is_none() {
            return Err(invalid(
                "cert_reqs",
                &reqs,
                "none unless --certfile and --keyfile make the server speak TLS",
            ));
        }
        if ca_certs.is_none() {
            return Err(invalid(
                "cert_reqs",
                &reqs,
                "none unless --ca-certs names the CA certificates to verify clients against",
            ));
        }
    }
    let version = s.tls_min_version.unwrap_or_default();
    let tls_min_version = match version
        .trim()
        .to_ascii_lowercase()
        .trim_start_matches("tlsv")
        .replace('_', ".")
        .as_str()
    {
        "1.2" => TlsVersion::Tls12,
        "1.3" => TlsVersion::Tls13,
        _ => return Err(invalid("tls_min_version", &version, "1.2 or 1.3")),
    };
    let ciphers = match s.ciphers.as_deref().map(str::trim) {
        None | Some("") => Vec::new(),
        Some(list) => {
            let names = crate::tls::ciphers::parse(list)
                .map_err(|allowed| invalid("ciphers", &list, &allowed))?;
            if !crate::tls::ciphers::any_for(&names, tls_min_version) {
                return Err(invalid(
                    "ciphers",
                    &list,
                    &format!(
                        "at least one suite for TLS {} or later (--tls-min-version); TLS 1.3 \
                         suites: {}",
                        tls_min_version.as_str(),
                        crate::tls::ciphers::names_for(TlsVersion::Tls13).join(", ")
                    ),
                ));
            }
            names.into_iter().map(str::to_owned).collect()
        }
    };
    // -- issue 5: proxy --
    let allow_list = |name: &str, entries: Option<Vec<String>>| {
        let entries = entries.unwrap_or_default();
        crate::proxy::allow::AllowList::parse(&entries)
            .map_err(|why| invalid(name, &entries.join(","), &why))
    };
    let forwarded_allow_ips = allow_list("forwarded_allow_ips", s.forwarded_allow_ips)?;
    let proxy_allow_ips = allow_list("proxy_allow_ips", s.proxy_allow_ips)?;
    let secure_scheme_headers = s
        .secure_scheme_headers
        .unwrap_or_default()
        .iter()
        .filter(|h| !h.trim().is_empty())
        .map(|h| check_header_pair(h).map_err(|why| invalid("secure_scheme_headers", h, why)))
        .collect::<Result<Vec<_>, _>>()?;
    let mode = s.proxy_protocol.unwrap_or_default();
    let proxy_protocol = mode.parse::<crate::proxy::Mode>().map_err(|()| {
        invalid(
            "proxy_protocol",
            &mode,
            "off, v1, v2 or auto (--proxy-protocol alone means auto)",
        )
    })?;

    let secs = |n: i64| (n > 0).then(|| Duration::from_secs(n as u64));
    Ok(Config {
        app,
        binds,
        workers,
        threads,
        worker_connections,
        chdir,
        pythonpath,
        env,
        root_path,
        timeout: secs(timeout),
        header_timeout: secs(header_timeout),
        body_timeout: secs(body_timeout),
        send_timeout: secs(send_timeout),
        graceful_timeout: Duration::from_secs(graceful_timeout as u64),
        keep_alive: secs(keep_alive),
        backlog,
        // Both have declared defaults, so they are never unset here.
        reuse_port: s.reuse_port.unwrap_or(false),
        request_buffering: s.request_buffering.unwrap_or(true),
        body_buffer_size,
        tmp_upload_dir,
        limit_request_body: (limit_request_body > 0).then_some(limit_request_body),
        virtualenv,
        unix_socket_mode,
        log_level,
        max_requests: (max_requests > 0).then_some(max_requests),
        max_requests_jitter,
        max_worker_lifetime: secs(max_worker_lifetime),
        max_worker_lifetime_jitter: Duration::from_secs(max_worker_lifetime_jitter as u64),
        max_worker_memory: (max_worker_memory > 0).then_some(max_worker_memory << 20),
        error_logfile,
        access_logfile,
        access_log_format,
        log_format,
        capture_output: s.capture_output.unwrap_or(false),
        preload: s.preload.unwrap_or(false),
        hooks,
        reload: s.reload.unwrap_or(false),
        reload_extra_files: s.reload_extra_files.unwrap_or_default(),
        config_file: None,
        sources: Sources::default(),
        binds_explicit: false,
        pid: s.pid,
        user,
        group,
        umask,
        initgroups,
        proc_name,
        daemon: s.daemon.unwrap_or(false),
        http_limits,
        certfile,
        keyfile,
        ca_certs,
        cert_reqs,
        ciphers,
        tls_min_version,
        forwarded_allow_ips,
        secure_scheme_headers,
        proxy_protocol,
        proxy_allow_ips,
    })
}

/// Splits a `--secure-scheme-headers` entry, `NAME=VALUE`: the name must be a header name
/// (an RFC 9110 token) and the value non-empty.
fn check_header_pair(pair: &str) -> Result<(String, String), &'static str> {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    match pair.split_once('=') {
        Some((name, value))
            if !name.trim().is_empty()
                && name.trim().chars().all(tchar)
                && !value.trim().is_empty() =>
        {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => {
            Err("NAME=VALUE with a header name and a non-empty value, e.g. X-Forwarded-Proto=https")
        }
    }
}

/// Resolves `--user` and `--group` (names or numbers) to ids now, so a typo is a
/// configuration error before anything is bound. `--user` alone also means its primary
/// group: keeping root's group after dropping the user would be a trap.
fn resolve_owner(
    user: Option<&str>,
    group: Option<&str>,
    invalid: &dyn Fn(&str, &dyn std::fmt::Display, &str) -> ConfigError,
) -> Result<(Option<u32>, Option<u32>), ConfigError> {
    let gid = match group {
        None => None,
        Some(name) => Some(match name.trim().parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => match nix::unistd::Group::from_name(name) {
                Ok(Some(group)) => group.gid.as_raw(),
                Ok(None) => {
                    return Err(invalid("group", &name, "a group name or number known here"));
                }
                Err(e) => {
                    return Err(invalid(
                        "group",
                        &name,
                        &format!("a group name or number (the lookup failed: {e})"),
                    ));
                }
            },
        }),
    };
    let Some(name) = user else {
        return Ok((None, gid));
    };
    let entry = match name.trim().parse::<u32>() {
        Ok(uid) => nix::unistd::User::from_uid(Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(|u| (uid, Some(u.gid.as_raw())))
            .unwrap_or((uid, None)),
        Err(_) => match nix::unistd::User::from_name(name) {
            Ok(Some(u)) => (u.uid.as_raw(), Some(u.gid.as_raw())),
            Ok(None) => return Err(invalid("user", &name, "a user name or number known here")),
            Err(e) => {
                return Err(invalid(
                    "user",
                    &name,
                    &format!("a user name or number (the lookup failed: {e})"),
                ));
            }
        },
    };
    match (entry, gid) {
        ((uid, _), Some(gid)) => Ok((Some(uid), Some(gid))),
        ((uid, Some(primary)), None) => Ok((Some(uid), Some(primary))),
        ((_, None), None) => Err(invalid(
            "user",
            &name,
            "a user with a passwd entry, or set --group too (a bare uid has no known group)",
        )),
    }
}

/// Checks a whole-number setting against its range (unset cannot happen: all have defaults).
fn in_range(
    value: Option<i64>,
    min: i64,
    max: i64,
    name: &str,
    invalid: &dyn Fn(&str, &dyn std::fmt::Display, &str) -> ConfigError,
) -> Result<i64, ConfigError> {
    let value = value.unwrap_or(min);
    if (min..=max).contains(&value) {
        return Ok(value);
    }
    let allowed = if max == i64::MAX {
        format!("a whole number, {min} or more")
    } else {
        format!("a whole number from {min} to {max}")
    };
    Err(invalid(name, &value, &allowed))
}

/// Largest `--limit-request-line` (and what 0 means).
pub(super) const MAX_REQUEST_LINE: i64 = 65536;
/// Largest `--limit-request-fields` (gunicorn's maximum, and what 0 means).
pub(super) const MAX_REQUEST_FIELDS: i64 = 32768;
/// Largest `--limit-request-field-size` (and what 0 means).
pub(super) const MAX_FIELD_SIZE: i64 = 65536;
/// Largest `--limit-request-head`.
pub(super) const MAX_HEAD_SIZE: i64 = 16 * 1024 * 1024;
/// Largest `--limit-chunk-ext-size` and `--limit-trailer-size`.
pub(super) const MAX_FRAMING_LINE: i64 = 65536;

/// The codec limits. Gunicorn's three take 0 for "unlimited"; here it means the documented
/// maximum, so no setting lets a client make a worker buffer an unbounded head.
fn http_limits(
    [line, fields, field_size, head, chunk_ext, trailer]: [Option<i64>; 6],
    invalid: &dyn Fn(&str, &dyn std::fmt::Display, &str) -> ConfigError,
) -> Result<crate::http::Limits, ConfigError> {
    let defaults = crate::http::Limits::default();
    let gunicorn_style = |value: Option<i64>, default: usize, max: i64, name: &str| match value
        .unwrap_or(default as i64)
    {
        0 => Ok(max as usize),
        n if (1..=max).contains(&n) => Ok(n as usize),
        n => Err(invalid(
            name,
            &n,
            &format!("a whole number from 0 to {max} (0 means {max})"),
        )),
    };
    Ok(crate::http::Limits {
        request_line: gunicorn_style(
            line,
            defaults.request_line,
            MAX_REQUEST_LINE,
            "limit_request_line",
        )?,
        header_count: gunicorn_style(
            fields,
            defaults.header_count,
            MAX_REQUEST_FIELDS,
            "limit_request_fields",
        )?,
        header_field_size: gunicorn_style(
            field_size,
            defaults.header_field_size,
            MAX_FIELD_SIZE,
            "limit_request_field_size",
        )?,
        head_size: match in_range(
            head.or(Some(defaults.head_size as i64)),
            0,
            MAX_HEAD_SIZE,
            "limit_request_head",
            invalid,
        )? {
            0 => usize::MAX,
            n => n as usize,
        },
        chunk_line: in_range(
            chunk_ext.or(Some(defaults.chunk_line as i64)),
            1,
            MAX_FRAMING_LINE,
            "limit_chunk_ext_size",
            invalid,
        )? as usize,
        trailer_size: in_range(
            trailer.or(Some(defaults.trailer_size as i64)),
            0,
            MAX_FRAMING_LINE,
            "limit_trailer_size",
            invalid,
        )? as usize,
        ..defaults
    })
}

/// Whether a `--hooks` value names a file (a `.py` path) rather than a module.
pub(super) fn hooks_is_file(value: &str) -> bool {
    value.ends_with(".py") || value.contains('/')
}

/// A dotted Python module name: `a`, `a.b_c`.
fn is_dotted_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_alphanumeric() || c == '_')
        })
}

/// Checks `module:callable` and fills in the default callable.
fn check_app(app: &str) -> Result<String, String> {
    let (module, callable) = app.split_once(':').unwrap_or((app, "application"));
    let module_ok = !module.is_empty()
        && module.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_alphanumeric() || c == '_')
        });
    if !module_ok {
        return Err(
            "module:callable with a dotted module name, e.g. myproject.wsgi:application".to_owned(),
        );
    }
    if callable.trim().is_empty() {
        return Err("a callable after ':', e.g. myproject.wsgi:application".to_owned());
    }
    Ok(format!("{module}:{callable}"))
}

/// Splits `KEY=VALUE`; the key must be non-empty and neither part may hold a NUL byte
/// (the kernel could not pass it on).
fn check_env(kv: &str) -> Result<(String, String), &'static str> {
    match kv.split_once('=') {
        Some((key, value)) if !key.is_empty() && !kv.contains('\0') => {
            Ok((key.to_owned(), value.to_owned()))
        }
        _ => Err("KEY=VALUE with a non-empty KEY"),
    }
}

/// Parses octal permission bits: "660", "0660" or "0o660".
fn parse_mode(s: &str) -> Option<u32> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    if digits.is_empty() || digits.len() > 4 {
        return None;
    }
    u32::from_str_radix(digits, 8).ok().filter(|m| *m <= 0o777)
}

impl Config {
    /// The raw settings that produce this configuration, with every value spelled out
    /// (what `--print-config` writes).
    pub fn to_settings(&self) -> Settings {
        let secs = |d: Option<Duration>| Some(d.map_or(0, |d| d.as_secs() as i64));
        // Validated sizes fit; one built in code beyond i64::MAX prints as the maximum.
        let bytes = |n: u64| Some(i64::try_from(n).unwrap_or(i64::MAX));
        Settings {
            app: (!self.app.is_empty()).then(|| self.app.clone()),
            bind: Some(self.binds.iter().map(BindAddr::to_string).collect()),
            workers: Some(i64::from(self.workers)),
            threads: Some(i64::from(self.threads)),
            worker_connections: Some(i64::from(self.worker_connections)),
            chdir: self.chdir.clone(),
            pythonpath: (!self.pythonpath.is_empty()).then(|| self.pythonpath.clone()),
            env: (!self.env.is_empty())
                .then(|| self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            root_path: Some(self.root_path.clone()),
            timeout: secs(self.timeout),
            header_timeout: secs(self.header_timeout),
            body_timeout: secs(self.body_timeout),
            send_timeout: secs(self.send_timeout),
            graceful_timeout: secs(Some(self.graceful_timeout)),
            keep_alive: secs(self.keep_alive),
            backlog: Some(i64::from(self.backlog)),
            reuse_port: Some(self.reuse_port),
            request_buffering: Some(self.request_buffering),
            body_buffer_size: bytes(self.body_buffer_size),
            tmp_upload_dir: self.tmp_upload_dir.clone(),
            limit_request_body: bytes(self.limit_request_body.unwrap_or(0)),
            virtualenv: self.virtualenv.clone(),
            unix_socket_mode: self.unix_socket_mode.map(|m| format!("{m:o}")),
            log_level: Some(self.log_level.as_str().to_owned()),
            max_requests: bytes(self.max_requests.unwrap_or(0)),
            max_requests_jitter: bytes(self.max_requests_jitter),
            max_worker_lifetime: secs(self.max_worker_lifetime),
            max_worker_lifetime_jitter: secs(Some(self.max_worker_lifetime_jitter)),
            max_worker_memory: bytes(self.max_worker_memory.unwrap_or(0) >> 20),
            pid: self.pid.clone(),
            user: self.user.map(|u| u.to_string()),
            group: self.group.map(|g| g.to_string()),
            umask: self.umask.map(|m| format!("{m:03o}")),
            initgroups: Some(self.initgroups),
            proc_name: self.proc_name.clone(),
            daemon: Some(self.daemon),
            error_logfile: Some(
                self.error_logfile
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("-")),
            ),
            access_logfile: self.access_logfile.as_ref().map(|t| match t {
                LogTarget::Stdout => PathBuf::from("-"),
                LogTarget::File(f) => f.clone(),
            }),
            access_log_format: Some(self.access_log_format.clone()),
            log_format: Some(self.log_format.as_str().to_owned()),
            capture_output: Some(self.capture_output),
            preload: Some(self.preload),
            hooks: self.hooks.clone(),
            reload: Some(self.reload),
            reload_extra_files: (!self.reload_extra_files.is_empty())
                .then(|| self.reload_extra_files.clone()),
            limit_request_line: bytes(self.http_limits.request_line as u64),
            limit_request_fields: bytes(self.http_limits.header_count as u64),
            limit_request_field_size: bytes(self.http_limits.header_field_size as u64),
            limit_request_head: bytes(match self.http_limits.head_size {
                usize::MAX => 0,
                n => n as u64,
            }),
            limit_chunk_ext_size: bytes(self.http_limits.chunk_line as u64),
            limit_trailer_size: bytes(self.http_limits.trailer_size as u64),
            certfile: self.certfile.clone(),
            keyfile: self.keyfile.clone(),
            ca_certs: self.ca_certs.clone(),
            cert_reqs: Some(self.cert_reqs.as_str().to_owned()),
            ciphers: (!self.ciphers.is_empty()).then(|| self.ciphers.join(":")),
            tls_min_version: Some(self.tls_min_version.as_str().to_owned()),
            forwarded_allow_ips: Some(self.forwarded_allow_ips.entries().to_vec()),
            secure_scheme_headers: Some(
                self.secure_scheme_headers
                    .iter()
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect(),
            ),
            proxy_protocol: Some(self.proxy_protocol.as_str().to_owned()),
            proxy_allow_ips: Some(self.proxy_allow_ips.entries().to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_forms() {
        assert_eq!(check_app("a.b:app").as_deref(), Ok("a.b:app"));
        assert_eq!(check_app("a.b").as_deref(), Ok("a.b:application"));
        assert_eq!(check_app("a:create_app()").as_deref(), Ok("a:create_app()"));
        for bad in ["", ":app", "a..b:app", "a b:app", "a:", "1a:app"] {
            assert!(check_app(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("660"), Some(0o660));
        assert_eq!(parse_mode("0660"), Some(0o660));
        assert_eq!(parse_mode("0o600"), Some(0o600));
        for bad in ["", "8", "1000", "rw", "-1", "07777"] {
            assert_eq!(parse_mode(bad), None, "{bad:?}");
        }
    }
}
