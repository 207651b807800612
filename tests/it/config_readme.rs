//! The README's option table is generated from the settings declaration, so the docs cannot
//! drift from the code. `RSGI_UPDATE_README=1 cargo test --test it config_readme` rewrites it.

use rsgi_server::settings::markdown_table;

const BEGIN: &str = "<!-- options:begin -->\n";
const END: &str = "<!-- options:end -->";

#[test]
fn readme_option_table_matches_the_settings() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md is readable");
    let start = readme
        .find(BEGIN)
        .expect("README has the options:begin marker")
        + BEGIN.len();
    let end = readme.find(END).expect("README has the options:end marker");
    let table = markdown_table();
    if std::env::var_os("RSGI_UPDATE_README").is_some() {
        let updated = format!("{}{table}{}", &readme[..start], &readme[end..]);
        std::fs::write(path, updated).expect("README.md is writable");
        return;
    }
    assert_eq!(
        &readme[start..end],
        table,
        "README option table is stale: run RSGI_UPDATE_README=1 cargo test --test it config_readme"
    );
}
