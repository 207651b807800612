//! HUP reloads the certificate: a certificate renewed in place is served by the new
//! generation of workers; a broken one is logged and the working one kept. The files are
//! read by the master before it drops privileges, so a key only root can read works.

use crate::support::tls::*;
use crate::support::*;
use nix::sys::signal::Signal;

fn served_cn(server: &Server, pki: &Pki) -> String {
    let result = py_client(server.addr().port(), pki, &["--", "/"]);
    assert_eq!(client_error(&result), None);
    let status = result
        .get("responses")
        .and_then(Json::as_array)
        .expect("responses")[0]
        .get("status")
        .and_then(Json::as_i64);
    assert_eq!(status, Some(200));
    result
        .get("subject_cn")
        .and_then(Json::as_str)
        .expect("a certificate subject")
        .to_owned()
}

#[test]
fn hup_serves_a_renewed_certificate_and_keeps_it_when_the_next_is_broken() {
    let pki = Pki::new();
    let first = pki.server();
    let cert = pki.dir.join("live.pem");
    let key = pki.dir.join("live.key");
    std::fs::copy(&first.cert, &cert).expect("copy");
    std::fs::copy(&first.key, &key).expect("copy");
    let mut server = server("hello")
        .arg("--certfile")
        .arg(&cert)
        .arg("--keyfile")
        .arg(&key)
        .start();
    assert_eq!(served_cn(&server, &pki), "localhost");

    // Renewed in place (new key too), then HUP.
    let renewed = pki.issue("renewed", "renewed.localhost", "server");
    std::fs::copy(&renewed.cert, &cert).expect("copy");
    std::fs::copy(&renewed.key, &key).expect("copy");
    server.signal(Signal::SIGHUP);
    server.wait_for_line(&format!("TLS certificate loaded from {}", cert.display()));
    server.wait_for_line("Reload complete (generation 2)");
    assert_eq!(served_cn(&server, &pki), "renewed.localhost");

    // A half-written key: the reload goes on with the certificate that works.
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\ntruncated").expect("write");
    server.signal(Signal::SIGHUP);
    let line = server.wait_for_line("TLS not reloaded");
    assert!(
        line.contains(&format!("--keyfile {}", key.display())),
        "{line}"
    );
    server.wait_for_line("Reload complete (generation 3)");
    assert_eq!(served_cn(&server, &pki), "renewed.localhost");
    assert_eq!(
        server
            .log
            .count(|l| l.contains("TLS certificate loaded from")),
        1,
        "only the reload that read the files says so"
    );
}

#[test]
fn a_key_only_root_can_read_serves_after_the_privilege_drop() {
    if !crate::support::hygiene::is_root() {
        eprintln!("skipping: dropping privileges needs root");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let pki = Pki::new();
    let pair = pki.server();
    std::fs::set_permissions(&pair.key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let builder = tls_server("hello", &pki).args(["--user", "nobody"]);
    let mut server = crate::support::hygiene::with_python_for_everyone(builder).start();
    let status = crate::support::status_field(server.worker_pid(), "Uid").expect("status");
    assert!(
        status.starts_with("65534"),
        "the worker runs as nobody: {status}"
    );
    assert_eq!(served_cn(&server, &pki), "localhost");

    // The master runs as nobody too by now: a HUP cannot read the key, says so, and the
    // certificate read at startup keeps serving.
    server.signal(Signal::SIGHUP);
    let line = server.wait_for_line("TLS not reloaded");
    assert!(line.contains("Permission denied"), "{line}");
    server.wait_for_line("Reload complete (generation 2)");
    assert_eq!(served_cn(&server, &pki), "localhost");
}
