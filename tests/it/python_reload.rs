//! `--reload`: editing a module of the app restarts the worker on the new code; a syntax
//! error is answered with 500 and the traceback instead of stopping the server, and saving
//! the fix brings the app back; `--reload-extra-file` is watched too.

use crate::support::*;

const APP: &str = "import msg\n\n\
def application(environ, start_response):\n    \
start_response('200 OK', [('Content-Type', 'text/plain')])\n    \
return [msg.TEXT.encode()]\n";

fn reloading_server(dir: &TempDir, extra: &[&str]) -> Server {
    server("app")
        .no_chdir()
        .arg("--chdir")
        .arg(dir.path())
        .arg("--reload")
        .args(extra)
        .start()
}

#[test]
fn edits_syntax_errors_and_fixes_are_picked_up() {
    let dir = TempDir::new();
    dir.write("app.py", APP);
    dir.write("msg.py", "TEXT = 'version one'\n");
    let mut server = reloading_server(&dir, &[]);
    assert_eq!(server.get("/").text(), "version one");

    dir.write("msg.py", "TEXT = 'version two!'\n");
    server.wait_for_line("msg.py modified");
    server.wait_for_lines("Worker ready (pid: ", 2);
    assert_eq!(server.get("/").text(), "version two!");

    // A syntax error: the server stays up and says what is wrong.
    dir.write("msg.py", "TEXT = ('unclosed'\n");
    server.wait_for_lines("msg.py modified", 2);
    server.wait_for_lines("Worker ready (pid: ", 3);
    let broken = server.get("/");
    assert_eq!(broken.status(), 500);
    let text = broken.text();
    assert!(text.contains("SyntaxError"), "{text}");
    assert!(text.contains("msg.py"), "{text}");

    // The fix brings it back (msg.py was never imported: the failed import's files are
    // watched).
    dir.write("msg.py", "TEXT = 'version three, fixed'\n");
    server.wait_for_lines("msg.py modified", 3);
    server.wait_for_lines("Worker ready (pid: ", 4);
    let fixed = server.get("/");
    assert_eq!(fixed.status(), 200);
    assert_eq!(fixed.text(), "version three, fixed");
}

#[test]
fn an_extra_file_restarts_the_worker() {
    let dir = TempDir::new();
    dir.write("app.py", APP);
    dir.write("msg.py", "TEXT = 'same'\n");
    let settings = dir.write("settings.txt", "a");
    let mut server = reloading_server(&dir, &["--reload-extra-file", settings.to_str().unwrap()]);
    let first = server.worker_pid();
    dir.write("settings.txt", "changed");
    server.wait_for_line("settings.txt modified");
    server.wait_for_line(&format!("Worker exited (pid: {first})"));
    server.wait_for_lines("Worker ready (pid: ", 2);
    assert_eq!(server.get("/").text(), "same");
}

// Regression: --reload missed a module created after a failed import, commit 90ad828 (issue 4)
#[test]
fn a_module_that_does_not_exist_yet_is_picked_up_when_created() {
    let dir = TempDir::new();
    dir.write("app.py", APP);
    let mut server = reloading_server(&dir, &[]);
    let missing = server.get("/");
    assert_eq!(missing.status(), 500);
    assert!(
        missing.text().contains("No module named 'msg'"),
        "{}",
        missing.text()
    );

    dir.write("msg.py", "TEXT = 'created'\n");
    server.wait_for_line("modified");
    server.wait_for_lines("Worker ready (pid: ", 2);
    assert_eq!(server.get("/").text(), "created");
}
