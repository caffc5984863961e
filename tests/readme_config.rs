//! The README's `## Configuration` tables list exactly the variables the two binaries know: the router's
//! `config::KNOWN_VARIABLES`, the peer's (config.md §3) and `RUST_LOG` (config.md §1), as config.md
//! requires.
//!
//! Format the README keeps: inside the section that starts at the line `## Configuration` (and runs to the
//! next `## ` heading), every table row whose first cell holds backticked upper-case names documents those
//! variables: `| \`NAME\` | default | ... |`, or several in one cell (`` `A`, `B` `` or
//! `` `A` (alias `B`) ``). Rows without such a name (headers, separators) and text outside tables are
//! ignored, as are backticked names in the other columns.

mod deploy_support;

use std::collections::BTreeSet;

use deploy_support::{peer_variables, read_repo_file, router_variables};

/// Read by both binaries (config.md §1) but outside the router's and the peer's own tables.
const COMMON_VARIABLES: &[&str] = &["RUST_LOG"];

/// The lines of the `## Configuration` section, without its heading.
fn configuration_section(readme: &str) -> Option<Vec<&str>> {
    let mut lines = readme.lines();
    lines.find(|line| line.trim_end().starts_with("## Configuration"))?;
    Some(lines.take_while(|line| !line.starts_with("## ")).collect())
}

/// Backticked environment-variable names of a piece of Markdown.
fn backticked_names(text: &str) -> impl Iterator<Item = &str> {
    text.split('`').skip(1).step_by(2).filter(|code| {
        code.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && code
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

/// Variable names of the first column of every table row of the section.
fn documented_variables(section: &[&str]) -> BTreeSet<String> {
    section
        .iter()
        .map(|line| line.trim())
        .filter(|line| line.starts_with('|'))
        .filter_map(|line| line[1..].split('|').next())
        .flat_map(backticked_names)
        .map(str::to_string)
        .collect()
}

#[test]
fn parser_reads_first_column_names_of_the_configuration_section_only() {
    let readme = "# Title\n\
        | `BEFORE` | not in the section |\n\
        ## Configuration\n\
        Intro mentioning `MENTIONED` outside a table.\n\
        ### Router\n\
        | variable | default | effect |\n\
        |---|---|---|\n\
        | `MICTLANX_ROUTER_PORT` | `60666` | see `OTHER_COLUMN` |\n\
        | `MAX_WORKERS`, `MICTLANX_MAX_WORKERS` | `4` | no effect |\n\
        | `MICTLANX_CACHE_MAX_OBJECT_SIZE` (alias `MICTLANX_ROUTER_CACHE_MAX_OBJECT_SIZE`) | 1/8 | |\n\
        ### Peer\n\
        |`NODE_ID`|`mictlanx-peer-0`|id|\n\
        | `lowercase` | | |\n\
        ## Next section\n\
        | `AFTER` | not in the section |\n";
    let section = configuration_section(readme).expect("a configuration section");
    let expected = [
        "MAX_WORKERS",
        "MICTLANX_CACHE_MAX_OBJECT_SIZE",
        "MICTLANX_MAX_WORKERS",
        "MICTLANX_ROUTER_CACHE_MAX_OBJECT_SIZE",
        "MICTLANX_ROUTER_PORT",
        "NODE_ID",
    ];
    assert_eq!(
        documented_variables(&section),
        expected
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
    );
    assert!(configuration_section("# Title\n## Usage\n").is_none());
}

#[test]
fn readme_configuration_tables_list_exactly_the_known_variables() {
    let readme = read_repo_file("README.md");
    let section = configuration_section(&readme)
        .expect("README.md has no `## Configuration` section (config.md: it lists every variable)");
    let documented = documented_variables(&section);
    let mut known: BTreeSet<String> = router_variables()
        .union(&peer_variables())
        .cloned()
        .collect();
    known.extend(COMMON_VARIABLES.iter().map(|name| name.to_string()));

    let undocumented: Vec<_> = known.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&known).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "README `## Configuration` disagrees with the binaries.\n\
         Known but missing from the README tables: {undocumented:?}\n\
         In the README but unknown to both binaries (not in config::KNOWN_VARIABLES, config.md §3 or RUST_LOG): \
         {unknown:?}"
    );
}
