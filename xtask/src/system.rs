//! What the machine has, and installing what it lacks from Debian's packages.

use std::process::Command;

use crate::error::XtaskError;

/// Whether `program` is on PATH.
pub fn on_path(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// Install Debian `packages` (as root); `updated` says whether `apt-get update` ran.
pub fn apt_install(packages: &[&str], updated: &mut bool) -> Result<(), XtaskError> {
    let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if uid.as_deref().unwrap_or("") != "0" {
        return Err(XtaskError::Service {
            service: packages.join(" "),
            message: "installing Debian packages needs root (run as root, or install them yourself)".into(),
        });
    }
    let env = [("DEBIAN_FRONTEND", "noninteractive")];
    if !*updated {
        crate::cmd::sh("apt-get", &["update", "-qq"], &env)?;
        *updated = true;
    }
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend_from_slice(packages);
    crate::cmd::sh("apt-get", &args, &env)
}
