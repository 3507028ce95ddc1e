//! `cargo xtask package`: what publishing needs, checked without publishing.
//!
//! 1. Every publishable crate (a workspace member without `publish = false`) has the
//!    metadata crates.io and docs.rs show, and a LICENSE, README.md and CHANGELOG.md
//!    of its own.
//! 2. Every crate of the dependency tree comes from crates.io (no git or path
//!    dependency outside the workspace) under a licence this project may ship with
//!    (an SPDX expression, evaluated: one allowed side of an `OR` is enough).
//! 3. `cargo package` packages every publishable crate and builds each one alone
//!    from its packaged form (workspace dependencies from a local registry of the
//!    other packages), and each package holds its LICENSE and README.md.
//!
//! Offline apart from the crates.io index (the same one every build reads).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cmd::{sh, sh_output};
use crate::error::XtaskError;
use crate::system::report_free_disk;

/// Licences a dependency may have (SPDX ids), all permissive.
const ALLOWED_LICENSES: &[&str] = &[
    "Apache-2.0",
    "MIT",
    "MIT-0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "Zlib",
    "0BSD",
    "Unicode-3.0",
    "Unlicense",
    "CC0-1.0",
    "BSL-1.0",
    "CDLA-Permissive-2.0",
];

/// Licence exceptions (`X WITH exception`) that keep X as it is.
const ALLOWED_EXCEPTIONS: &[&str] = &["LLVM-exception"];

/// The only source a dependency may come from.
const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

/// Fields every publishable crate sets.
const REQUIRED_FIELDS: &[&str] =
    &["description", "license", "repository", "homepage", "documentation", "readme", "rust_version"];

/// Files every publishable crate has next to its Cargo.toml, and packages.
const REQUIRED_FILES: &[&str] = &["LICENSE", "README.md", "CHANGELOG.md"];

pub fn run(args: &[String]) -> Result<(), XtaskError> {
    const FLAGS: [&str; 2] = ["--no-verify", "--allow-dirty"];
    if let Some(other) = args.iter().find(|a| !FLAGS.contains(&a.as_str())) {
        return Err(XtaskError::Usage(format!("cargo xtask package takes {FLAGS:?}, not `{other}`")));
    }
    let verify = !args.iter().any(|a| a == "--no-verify");
    let metadata: Value =
        serde_json::from_str(&sh_output("cargo", &["metadata", "--format-version", "1", "--locked"], &[])?)
            .map_err(|e| XtaskError::Usage(format!("cargo metadata printed something else than JSON: {e}")))?;
    let members = workspace_members(&metadata);
    let publishable: Vec<&Value> = members.iter().copied().filter(|p| is_publishable(p)).collect();
    let mut problems = Vec::new();
    for package in &publishable {
        problems.extend(metadata_problems(package));
    }
    problems.extend(dependency_problems(&metadata));
    if !problems.is_empty() {
        return Err(XtaskError::Usage(format!("not publishable:\n  {}", problems.join("\n  "))));
    }
    let names: Vec<&str> = publishable.iter().filter_map(|p| p["name"].as_str()).collect();
    eprintln!(
        "package: {} publishable crates, metadata and dependency licences in order: {}",
        names.len(),
        names.join(" ")
    );
    forget_earlier_packages(&names)?;
    let mut command = vec!["package", "--workspace", "--locked"];
    for unpublished in members.iter().filter(|p| !is_publishable(p)).filter_map(|p| p["name"].as_str()) {
        command.extend(["--exclude", unpublished]);
    }
    command.extend(args.iter().map(String::as_str));
    let workspace_target =
        metadata["target_directory"].as_str().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
    // The builds from packages share little with the workspace's (other features,
    // other sources) and are of no use afterwards: they go to a directory of their
    // own that is removed at the end, so the disk they took is free for the tests.
    let target = workspace_target.join("packaged");
    let target_env = target.to_string_lossy().into_owned();
    report_free_disk("before packaging");
    let packaged = sh("cargo", &command, &[("CARGO_INCREMENTAL", "0"), ("CARGO_TARGET_DIR", &target_env)])
        .and_then(|()| publishable.iter().try_for_each(|package| check_packaged_files(&target, package)));
    report_free_disk("after packaging");
    match std::fs::remove_dir_all(&target) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(XtaskError::io(&target, e)),
    }
    packaged?;
    eprintln!(
        "package: every crate packaged{} with its {}",
        if verify { " and built alone" } else { "" },
        REQUIRED_FILES.join(", ")
    );
    Ok(())
}

/// Verification builds each package against the others from a local registry, which
/// cargo unpacks under `$CARGO_HOME/registry/src/-<hash of its path>/`, and it reuses
/// what it unpacked there before for the same name and version: a second run from
/// the same checkout path then built against the first run's code. Those unpacked
/// copies of our crates go first.
fn forget_earlier_packages(names: &[&str]) -> Result<(), XtaskError> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"));
    let sources = home.join("registry").join("src");
    let Ok(registries) = std::fs::read_dir(&sources) else { return Ok(()) };
    for registry in registries.flatten() {
        // Local registries have no name, only "-<hash>"; crates.io's is left alone.
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        let Ok(unpacked) = std::fs::read_dir(registry.path()) else { continue };
        for entry in unpacked.flatten() {
            let file_name = entry.file_name();
            let dir = file_name.to_string_lossy();
            let ours = names.iter().any(|name| {
                dir.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|v| v.starts_with(char::is_numeric))
            });
            if ours {
                std::fs::remove_dir_all(entry.path()).map_err(|e| XtaskError::io(entry.path(), e))?;
            }
        }
    }
    Ok(())
}

fn workspace_members(metadata: &Value) -> Vec<&Value> {
    let ids: Vec<&str> =
        metadata["workspace_members"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    packages(metadata).filter(|p| p["id"].as_str().is_some_and(|id| ids.contains(&id))).collect()
}

fn packages(metadata: &Value) -> impl Iterator<Item = &Value> {
    metadata["packages"].as_array().into_iter().flatten()
}

/// `publish = false` shows as an empty list of registries.
fn is_publishable(package: &Value) -> bool {
    !package["publish"].as_array().is_some_and(Vec::is_empty)
}

fn metadata_problems(package: &Value) -> Vec<String> {
    let name = package["name"].as_str().unwrap_or("?");
    let mut problems = Vec::new();
    for field in REQUIRED_FIELDS {
        if package[*field].as_str().is_none_or(str::is_empty) {
            problems.push(format!("{name}: no `{}` in its Cargo.toml", field.replace('_', "-")));
        }
    }
    for list in ["keywords", "categories"] {
        if package[list].as_array().is_none_or(Vec::is_empty) {
            problems.push(format!("{name}: no `{list}` in its Cargo.toml"));
        }
    }
    let dir = package["manifest_path"].as_str().map(Path::new).and_then(Path::parent).unwrap_or(Path::new("."));
    for file in REQUIRED_FILES {
        if !dir.join(file).is_file() {
            problems.push(format!("{name}: no {file} in {}", dir.display()));
        }
    }
    problems
}

fn dependency_problems(metadata: &Value) -> Vec<String> {
    let members: Vec<&Value> = workspace_members(metadata);
    let mut problems = Vec::new();
    for package in packages(metadata) {
        if members.iter().any(|m| m["id"] == package["id"]) {
            continue;
        }
        let name =
            format!("{} {}", package["name"].as_str().unwrap_or("?"), package["version"].as_str().unwrap_or("?"));
        match package["source"].as_str() {
            Some(CRATES_IO) => {}
            other => problems.push(format!("{name}: comes from {}, not crates.io", other.unwrap_or("a path"))),
        }
        match package["license"].as_str() {
            Some(expression) if license_allowed(expression) => {}
            Some(expression) => {
                problems.push(format!("{name}: licence `{expression}` is not among {ALLOWED_LICENSES:?}"))
            }
            None => problems.push(format!("{name}: no SPDX licence (only a licence file); check it by hand")),
        }
    }
    problems
}

/// Whether an SPDX expression (`/` read as `OR`, as old manifests write it) allows
/// use under the allowed licences.
fn license_allowed(expression: &str) -> bool {
    let spaced = expression.replace('/', " OR ").replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut at = 0;
    let allowed = or_expression(&tokens, &mut at);
    allowed == Some(true) && at == tokens.len()
}

fn or_expression(tokens: &[&str], at: &mut usize) -> Option<bool> {
    let mut any = and_expression(tokens, at)?;
    while tokens.get(*at).is_some_and(|t| t.eq_ignore_ascii_case("OR")) {
        *at += 1;
        any |= and_expression(tokens, at)?;
    }
    Some(any)
}

fn and_expression(tokens: &[&str], at: &mut usize) -> Option<bool> {
    let mut all = term(tokens, at)?;
    while tokens.get(*at).is_some_and(|t| t.eq_ignore_ascii_case("AND")) {
        *at += 1;
        all &= term(tokens, at)?;
    }
    Some(all)
}

fn term(tokens: &[&str], at: &mut usize) -> Option<bool> {
    let token = *tokens.get(*at)?;
    *at += 1;
    if token == "(" {
        let inner = or_expression(tokens, at)?;
        (tokens.get(*at) == Some(&")")).then(|| *at += 1)?;
        return Some(inner);
    }
    let mut allowed = ALLOWED_LICENSES.contains(&token.trim_end_matches('+'));
    if tokens.get(*at).is_some_and(|t| t.eq_ignore_ascii_case("WITH")) {
        let exception = *tokens.get(*at + 1)?;
        *at += 2;
        allowed &= ALLOWED_EXCEPTIONS.contains(&exception);
    }
    Some(allowed)
}

/// The `.crate` of `package` (a gzipped tar) holds every required file.
fn check_packaged_files(target: &Path, package: &Value) -> Result<(), XtaskError> {
    let (name, version) = (package["name"].as_str().unwrap_or("?"), package["version"].as_str().unwrap_or("?"));
    let path = target.join("package").join(format!("{name}-{version}.crate"));
    let listed =
        std::process::Command::new("tar").arg("tzf").arg(&path).output().map_err(|e| XtaskError::io(&path, e))?;
    if !listed.status.success() {
        return Err(XtaskError::Usage(format!("{}: not a readable package ({})", path.display(), listed.status)));
    }
    let listing = String::from_utf8_lossy(&listed.stdout);
    let missing: Vec<&str> = REQUIRED_FILES
        .iter()
        .copied()
        .filter(|file| !listing.lines().any(|line| line == format!("{name}-{version}/{file}")))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(XtaskError::Usage(format!("{}: the package lacks {}", path.display(), missing.join(", "))))
    }
}

#[cfg(test)]
mod tests {
    use super::{license_allowed, metadata_problems};

    #[test]
    fn missing_metadata_and_files_are_named() {
        let dir = std::env::temp_dir().join(format!("xtask-package-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("README.md"), "# x").unwrap();
        let package = serde_json::json!({
            "name": "connector-x",
            "description": "x",
            "license": "Apache-2.0",
            "repository": "https://example.org/x",
            "homepage": "https://example.org/x",
            "documentation": "",
            "readme": "README.md",
            "rust_version": "1.94",
            "keywords": [],
            "categories": ["asynchronous"],
            "manifest_path": dir.join("Cargo.toml"),
        });
        let problems = metadata_problems(&package).join("\n");
        std::fs::remove_dir_all(&dir).unwrap();
        for expected in ["no `documentation`", "no `keywords`", "no LICENSE", "no CHANGELOG.md"] {
            assert!(problems.contains(expected), "{expected} in {problems}");
        }
        assert!(!problems.contains("README") && !problems.contains("`categories`"), "{problems}");
    }

    #[test]
    fn spdx_expressions_are_evaluated() {
        for fine in [
            "MIT",
            "MIT OR Apache-2.0",
            "MIT/Apache-2.0",
            "(MIT OR Apache-2.0) AND Unicode-3.0",
            "Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT",
            "MIT OR Apache-2.0 OR LGPL-2.1-or-later",
            "ISC AND (Apache-2.0 OR ISC) AND Apache-2.0 AND MIT AND BSD-3-Clause",
        ] {
            assert!(license_allowed(fine), "{fine}");
        }
        for bad in ["GPL-3.0-only", "MIT AND GPL-2.0", "LGPL-2.1-or-later", "(MIT", "MIT OR", "Apache-2.0 WITH Other"] {
            assert!(!license_allowed(bad), "{bad}");
        }
    }
}
