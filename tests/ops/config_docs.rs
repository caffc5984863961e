//! The tables of `docs/config.md` list exactly the variables the two binaries know: the router's
//! `config::KNOWN_VARIABLES`, the peer's (`docs/config.md` §3) and `RUST_LOG` (`docs/config.md` §1).
//!
//! Format the page keeps: every table row of the page whose first cell holds backticked upper-case names
//! documents those variables: `| \`NAME\` | default | ... |`, or several in one cell (`` `A`, `B` `` or
//! `` `A` (alias `B`) ``). Rows without such a name (headers, separators) and text outside tables are
//! ignored, as are backticked names in the other columns. So no other table of the page may start a row
//! with a backticked upper-case name.

use std::collections::BTreeSet;

use mictlanx_testkit::deploy::{peer_variables, read_repo_file, router_variables};

/// Read by both binaries (`docs/config.md` §1) but outside the router's and the peer's own tables.
const COMMON_VARIABLES: &[&str] = &["RUST_LOG"];

/// The page documenting the configuration.
const CONFIG_PAGE: &str = "docs/config.md";

/// Backticked environment-variable names of a piece of Markdown.
fn backticked_names(text: &str) -> impl Iterator<Item = &str> {
    text.split('`').skip(1).step_by(2).filter(|code| {
        code.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && code
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

/// Variable names of the first column of every table row of a Markdown page.
fn documented_variables(page: &str) -> BTreeSet<String> {
    page.lines()
        .map(|line| line.trim())
        .filter(|line| line.starts_with('|'))
        .filter_map(|line| line[1..].split('|').next())
        .flat_map(backticked_names)
        .map(str::to_string)
        .collect()
}

#[test]
fn parser_reads_first_column_names_of_every_table() {
    let page = "# Title\n\
        Intro mentioning `MENTIONED` outside a table.\n\
        ## 2. Router\n\
        | variable | default | effect |\n\
        |---|---|---|\n\
        | `MICTLANX_ROUTER_PORT` | `60666` | see `OTHER_COLUMN` |\n\
        | `MAX_WORKERS`, `MICTLANX_MAX_WORKERS` | `4` | no effect |\n\
        | `MICTLANX_CACHE_MAX_OBJECT_SIZE` (alias `MICTLANX_ROUTER_CACHE_MAX_OBJECT_SIZE`) | 1/8 | |\n\
        ## 3. Peer\n\
        |`NODE_ID`|`mictlanx-peer-0`|id|\n\
        | `lowercase` | | |\n\
        | size | `10mb`, `1GB` | a type row |\n";
    let expected = [
        "MAX_WORKERS",
        "MICTLANX_CACHE_MAX_OBJECT_SIZE",
        "MICTLANX_MAX_WORKERS",
        "MICTLANX_ROUTER_CACHE_MAX_OBJECT_SIZE",
        "MICTLANX_ROUTER_PORT",
        "NODE_ID",
    ];
    assert_eq!(
        documented_variables(page),
        expected
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
    );
    assert!(documented_variables("# Title\n## Usage\n").is_empty());
}

#[test]
fn config_page_tables_list_exactly_the_known_variables() {
    let page = read_repo_file(CONFIG_PAGE);
    let documented = documented_variables(&page);
    let mut known: BTreeSet<String> = router_variables()
        .union(&peer_variables())
        .cloned()
        .collect();
    known.extend(COMMON_VARIABLES.iter().map(|name| name.to_string()));

    let undocumented: Vec<_> = known.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&known).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "{CONFIG_PAGE} disagrees with the binaries.\n\
         Known but missing from its tables: {undocumented:?}\n\
         In its tables but unknown to both binaries (not in config::KNOWN_VARIABLES, the peer's list or \
         RUST_LOG): {unknown:?}"
    );
}
