//! The TLS options against real clients: client certificates (`--cert-reqs`,
//! `--ca-certs`), `--tls-min-version`, `--ciphers`, and bad certificate files refused at
//! startup (exit status 2, naming the option and the file, before anything is bound).

use crate::support::tls::*;
use crate::support::*;
use std::path::Path;

/// curl presenting `client`'s certificate.
fn curl_with(pki: &Pki, client: &Pair, url: &str) -> std::process::Output {
    curl(
        pki,
        &[
            "--cert",
            &client.cert.to_string_lossy(),
            "--key",
            &client.key.to_string_lossy(),
            url,
        ],
    )
}

fn status_of(result: &Json) -> Option<i64> {
    result
        .get("responses")?
        .as_array()?
        .first()?
        .get("status")?
        .as_i64()
}

#[test]
fn a_required_client_certificate() {
    let pki = Pki::new();
    let server = tls_server("hello", &pki)
        .arg("--ca-certs")
        .arg(pki.ca())
        .args(["--cert-reqs", "required"])
        .start();
    let url = format!("https://127.0.0.1:{}/", port(&server));
    let client = pki.client();

    let with = curl_with(&pki, &client, &url);
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&with.stdout), "Hello, World!\n");

    let without = curl(&pki, &[&url]);
    assert!(!without.status.success(), "refused without a certificate");

    // The same with Python: a client certificate from another CA is refused too.
    let other = Pki::new();
    let stranger = other.client();
    let presenting = |cert: &Path, key: &Path| {
        let (cert, key) = (cert.to_string_lossy(), key.to_string_lossy());
        py_client(
            port(&server),
            &pki,
            &["--cert", &cert, "--key", &key, "--", "/"],
        )
    };
    let result = presenting(&stranger.cert, &stranger.key);
    assert_eq!(status_of(&result), None, "{:?}", client_error(&result));
    let result = presenting(&client.cert, &client.key);
    assert_eq!(status_of(&result), Some(200), "{:?}", client_error(&result));
    assert!(Server::is_alive(server.worker_pid()));
}

#[test]
fn an_optional_client_certificate_gunicorn_spelling() {
    let pki = Pki::new();
    let server = tls_server("hello", &pki)
        .arg("--ca-certs")
        .arg(pki.ca())
        .args(["--cert-reqs", "1"])
        .start();
    let url = format!("https://127.0.0.1:{}/", port(&server));
    let without = curl(&pki, &[&url]);
    assert!(
        without.status.success(),
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );
    let client = pki.client();
    let with = curl_with(&pki, &client, &url);
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
}

#[test]
fn tls_min_version_13_refuses_a_12_only_client() {
    let pki = Pki::new();
    let default = tls_server("hello", &pki).start();
    let result = py_client(port(&default), &pki, &["--max-version", "1.2", "--", "/"]);
    assert_eq!(
        result.get("version").and_then(Json::as_str),
        Some("TLSv1.2")
    );
    assert_eq!(status_of(&result), Some(200));

    let strict = tls_server("hello", &pki)
        .args(["--tls-min-version", "1.3"])
        .start();
    let result = py_client(port(&strict), &pki, &["--max-version", "1.2", "--", "/"]);
    let error = client_error(&result).expect("a TLS 1.2 client is refused");
    assert!(error.contains("SSL"), "{error}");
    let result = py_client(port(&strict), &pki, &["--", "/"]);
    assert_eq!(
        result.get("version").and_then(Json::as_str),
        Some("TLSv1.3")
    );
    assert_eq!(status_of(&result), Some(200));
}

#[test]
fn ciphers_narrow_the_suites() {
    let pki = Pki::new();
    let server = tls_server("hello", &pki)
        .args([
            "--ciphers",
            "ECDHE-ECDSA-AES256-GCM-SHA384:TLS_CHACHA20_POLY1305_SHA256",
        ])
        .start();
    let result = py_client(port(&server), &pki, &["--max-version", "1.2", "--", "/"]);
    assert_eq!(
        result.get("cipher").and_then(Json::as_str),
        Some("ECDHE-ECDSA-AES256-GCM-SHA384")
    );
    let result = py_client(port(&server), &pki, &["--", "/"]);
    assert_eq!(
        result.get("cipher").and_then(Json::as_str),
        Some("TLS_CHACHA20_POLY1305_SHA256")
    );
    // A TLS 1.2 client offering only suites the server left out is refused.
    let result = py_client(
        port(&server),
        &pki,
        &[
            "--max-version",
            "1.2",
            "--ciphers",
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            "--",
            "/",
        ],
    );
    assert!(client_error(&result).is_some(), "{result:?}");
}

/// Starts the server expecting a configuration error; returns its stderr.
fn refused(builder: Builder) -> String {
    let finished = builder.run();
    let text = finished.all_output();
    assert_eq!(finished.code(), Some(2), "{text}");
    assert!(!text.contains("Listening at"), "nothing is bound: {text}");
    text
}

#[test]
fn bad_certificate_files_are_startup_errors() {
    let pki = Pki::new();
    let pair = pki.server();
    let missing = pki.dir.join("missing.pem");
    let text = refused(server_with(&missing, &pair.key));
    assert!(
        text.contains(&format!("--certfile {}: cannot read it", missing.display())),
        "{text}"
    );

    // A key that is not the certificate's.
    let text = refused(server_with(&pair.cert, &pki.client().key));
    assert!(
        text.contains(&format!(
            "--keyfile {}: does not match",
            pki.client().key.display()
        )),
        "{text}"
    );

    // A chain file without a certificate (a key where the chain should be).
    let text = refused(server_with(&pair.key, &pair.key));
    assert!(text.contains("holds no certificate"), "{text}");

    // A key file without a key.
    let text = refused(server_with(&pair.cert, &pair.cert));
    assert!(
        text.contains("--keyfile") && text.contains("holds no private key"),
        "{text}"
    );

    // One without the other.
    let text = refused(server("hello").arg("--certfile").arg(&pair.cert));
    assert!(text.contains("--keyfile"), "{text}");

    // Client certificates need a CA to check them against.
    let text = refused(server_with(&pair.cert, &pair.key).args(["--cert-reqs", "required"]));
    assert!(
        text.contains("--cert-reqs") && text.contains("--ca-certs"),
        "{text}"
    );

    // An unknown suite: the message lists the known ones.
    let text = refused(server_with(&pair.cert, &pair.key).args(["--ciphers", "RC4-MD5"]));
    assert!(
        text.contains("--ciphers") && text.contains("TLS_AES_128_GCM_SHA256"),
        "{text}"
    );
}

fn server_with(cert: &std::path::Path, key: &std::path::Path) -> Builder {
    server("hello")
        .arg("--certfile")
        .arg(cert)
        .arg("--keyfile")
        .arg(key)
}
