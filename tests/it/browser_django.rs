//! A real browser on a real project: headless Chromium (Debian's, driven by Selenium through
//! `tests/browser/admin_flow.py`) walks the Django admin of `examples/django_site/` through
//! nginx (`proxy_pass` to a Unix socket, with `X-Forwarded-*`) and rsgi-server. It is refused
//! a wrong password, logs in, adds a Document with a file upload of random bytes, finds it on
//! the change list, downloads the file and gets the same bytes back, and logs out. The change
//! list's screenshot is left in `target/artifacts/django-admin-list.png`.

use crate::support::browser::{self, png_size};
use crate::support::django::{ADMIN_PASSWORD, ADMIN_USER, Site};
use crate::support::nginx::{self, Nginx};
use crate::support::*;
use std::ffi::OsStr;
use std::fs;
use std::io::Read;

/// What the browser uploads: a few hundred KB, so the multipart body and the download
/// each take many reads and writes on every hop.
const UPLOAD_BYTES: u64 = 384 * 1024 + 17;

/// nginx in front of the server's Unix socket, passing what a browser sent (its `Host`,
/// with the port, which Django's CSRF origin check compares with `Origin`) and saying who
/// the client was and how it came.
fn proxy_to(socket: &std::path::Path) -> String {
    format!(
        "location / {{\n\
           proxy_pass http://unix:{};\n\
           proxy_set_header Host $http_host;\n\
           proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
           proxy_set_header X-Forwarded-Proto $scheme;\n\
           proxy_set_header X-Forwarded-Host $http_host;\n\
         }}",
        socket.display()
    )
}

#[test]
fn chromium_uses_the_django_admin_through_nginx() {
    if !nginx::available() || !browser::available() {
        return;
    }
    let site = Site::prepare();
    let socket = site.dir().join("app.sock");
    let mut server = site
        .server()
        .bind(format!("unix:{}", socket.display()))
        .workers(2)
        .args(["--forwarded-allow-ips", "unix"])
        .start();
    let nginx = Nginx::start(&proxy_to(&socket));
    let base = format!("http://{}/", nginx.addr());

    let work = TempDir::new();
    // Random bytes under a random name: nothing a cache, a prior run or a fixed pattern
    // could supply.
    let mut random = Vec::new();
    fs::File::open("/dev/urandom")
        .and_then(|f| f.take(UPLOAD_BYTES + 4).read_to_end(&mut random))
        .expect("read /dev/urandom");
    let tag = random
        .drain(..4)
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let upload = work.write(&format!("report-{tag}.bin"), &random);
    let title = format!("Browser upload {tag}");
    let downloads = work.join("downloads");
    let shot = browser::artifacts_dir().join("django-admin-list.png");
    let _ = fs::remove_file(&shot);

    let args: Vec<&OsStr> = vec![
        base.as_ref(),
        "--user".as_ref(),
        ADMIN_USER.as_ref(),
        "--password".as_ref(),
        ADMIN_PASSWORD.as_ref(),
        "--upload".as_ref(),
        upload.as_os_str(),
        "--title".as_ref(),
        title.as_ref(),
        "--download-dir".as_ref(),
        downloads.as_os_str(),
        "--screenshot".as_ref(),
        shot.as_os_str(),
    ];
    let run = browser::run_script("admin_flow.py", &args);
    assert_eq!(
        run.code(),
        Some(0),
        "the browser's walk through the admin failed:\n{run:?}\n--- server ---\n{}\n--- nginx ---\n{}",
        server.stderr_text(),
        nginx.error_log()
    );
    // On stderr: nextest shows it for a failing test, `--no-capture` always.
    eprintln!("screenshot of the admin change list: {}", shot.display());

    // The script's own checks passed; these make sure of what it reports.
    let pk: u32 = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("admin_flow: ok pk="))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|pk| pk.parse().ok())
        .unwrap_or_else(|| panic!("no `ok pk=` line:\n{}", run.stdout));

    let png = fs::read(&shot).expect("the screenshot is in target/artifacts");
    let (width, height) = png_size(&png).expect("the screenshot is a PNG");
    assert!(width >= 640 && height >= 480, "screenshot {width}x{height}");

    let downloaded: Vec<_> = fs::read_dir(&downloads)
        .expect("the download dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    assert_eq!(downloaded.len(), 1, "downloads: {downloaded:?}");
    assert!(
        fs::read(&downloaded[0]).expect("the download") == random,
        "the downloaded file differs from the upload"
    );

    // The upload is where the project puts it, byte for byte.
    let stored: Vec<_> = fs::read_dir(site.media_root().join("documents"))
        .expect("media/documents")
        .map(|e| e.expect("dir entry").path())
        .collect();
    assert_eq!(stored.len(), 1, "stored: {stored:?}");
    assert!(fs::read(&stored[0]).expect("the stored file") == random);

    // Every step went through nginx: the upload's redirect to the change list, and the
    // download with the file's length as the body.
    let access = nginx.access_log();
    let saw = |request: &str, tail: &str| {
        access
            .lines()
            .any(|l| l.contains(&format!("\"{request} HTTP/1.1\" {tail}")))
    };
    assert!(
        saw("POST /admin/uploads/document/add/", "302 "),
        "no upload in nginx's log:\n{access}"
    );
    assert!(
        saw(
            &format!("GET /documents/{pk}/download/"),
            &format!("200 {} ", random.len())
        ),
        "no full download in nginx's log:\n{access}"
    );
    assert!(
        saw("POST /admin/logout/", "200 ") || saw("POST /admin/logout/", "302 "),
        "no logout in nginx's log:\n{access}"
    );

    let errors = server.stderr_text();
    assert!(
        !errors.contains("Traceback") && !errors.contains("[ERROR]"),
        "the server logged errors:\n{errors}"
    );
}
