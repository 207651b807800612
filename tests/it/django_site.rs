//! The demo Django project (`examples/django_site/`) served by rsgi-server: directly, behind
//! nginx and behind HAProxy, driven by curl.

use crate::support::django::Site;

#[test]
fn the_project_passes_djangos_checks_and_its_login_page_is_served() {
    let site = Site::prepare();
    let check = site.manage(&["check"]);
    assert!(String::from_utf8_lossy(&check.stdout).contains("no issues"));
    let srv = site.server().start();
    let r = srv.get("/accounts/login/");
    assert_eq!(r.status(), 200, "{}", r.text());
    assert!(r.text().contains("id=\"login-form\""), "{}", r.text());
    // The stylesheet is named by the manifest's hash and served by the engine from there.
    let css = site.static_root().join("staticfiles.json");
    assert!(css.exists() && site.dir().path().exists());
}
