//! Running the commands of a step, echoing them first.

use std::process::Command;
use std::time::Instant;

use crate::error::XtaskError;

/// Run `program args...` with extra environment, inheriting stdio; fail on a non-zero exit.
pub fn sh(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), XtaskError> {
    let command = format!("{program} {}", args.join(" "));
    eprintln!("==> {command}");
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .status()
        .map_err(|source| XtaskError::Spawn { command: command.clone(), source })?;
    eprintln!("<== {command} ({:.1} s)", started.elapsed().as_secs_f64());
    if status.success() { Ok(()) } else { Err(XtaskError::Failed { command, status }) }
}

/// Like [`sh`], but returns what the command printed on stdout (stderr is inherited).
pub fn sh_output(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<String, XtaskError> {
    let command = format!("{program} {}", args.join(" "));
    eprintln!("==> {command}");
    let started = Instant::now();
    let output = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|source| XtaskError::Spawn { command: command.clone(), source })?;
    eprintln!("<== {command} ({:.1} s)", started.elapsed().as_secs_f64());
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(XtaskError::Failed { command, status: output.status })
    }
}

/// Whether `cargo <subcommand> --version` works.
pub fn cargo_has(subcommand: &str) -> bool {
    Command::new("cargo")
        .args([subcommand, "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
