//! `.services/` at the workspace root: data directories, PID files and the `env`
//! file with the endpoint variables that the tests read.

use std::fs;
use std::path::PathBuf;

use crate::error::XtaskError;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(".services")
}

pub fn data_dir(name: &str) -> Result<PathBuf, XtaskError> {
    let dir = root().join(name);
    fs::create_dir_all(&dir).map_err(|e| XtaskError::io(&dir, e))?;
    Ok(dir)
}

pub fn env_file() -> Result<PathBuf, XtaskError> {
    let root = root();
    fs::create_dir_all(&root).map_err(|e| XtaskError::io(&root, e))?;
    Ok(root.join("env"))
}

fn pid_file(name: &str) -> PathBuf {
    root().join(format!("{name}.pids"))
}

pub fn write_pids(name: &str, pids: &[u32]) -> Result<(), XtaskError> {
    let root = root();
    fs::create_dir_all(&root).map_err(|e| XtaskError::io(&root, e))?;
    let path = pid_file(name);
    let text: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
    fs::write(&path, text.join("\n")).map_err(|e| XtaskError::io(&path, e))
}

pub fn read_pids(name: &str) -> Result<Vec<u32>, XtaskError> {
    let path = pid_file(name);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(XtaskError::io(&path, e)),
    }
}

pub fn clear_pids(name: &str) -> Result<(), XtaskError> {
    let path = pid_file(name);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(XtaskError::io(&path, e)),
        _ => Ok(()),
    }
}

fn read_env() -> Result<Vec<(String, String)>, XtaskError> {
    let path = env_file()?;
    Ok(fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

fn write_env(vars: &[(String, String)]) -> Result<(), XtaskError> {
    let path = env_file()?;
    let text: String = vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    fs::write(&path, text).map_err(|e| XtaskError::io(&path, e))
}

pub fn set_env(variables: &[&str], value: &str) -> Result<(), XtaskError> {
    let mut vars: Vec<(String, String)> =
        read_env()?.into_iter().filter(|(k, _)| !variables.contains(&k.as_str())).collect();
    vars.extend(variables.iter().map(|v| (v.to_string(), value.to_string())));
    write_env(&vars)
}

pub fn unset_env(variables: &[&str]) -> Result<(), XtaskError> {
    let vars: Vec<(String, String)> =
        read_env()?.into_iter().filter(|(k, _)| !variables.contains(&k.as_str())).collect();
    write_env(&vars)
}

/// The endpoint variables, for the test run.
pub fn env_vars() -> Result<Vec<(String, String)>, XtaskError> {
    read_env()
}
