//! What the machine has, and installing what it lacks from Debian's packages.

use std::process::Command;

use crate::error::XtaskError;

/// Whether `program` is on PATH.
pub fn on_path(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// Whether pkg-config knows the C library `name` (its -dev package is installed).
pub fn has_c_library(name: &str) -> bool {
    Command::new("pkg-config").args(["--exists", name]).status().is_ok_and(|s| s.success())
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

/// Print how much disk is free where the build writes (`target/`), so that a build
/// that dies of a full disk (the linker killed by SIGBUS) says so in CI's log.
pub fn report_free_disk(stage: &str) {
    let out = Command::new("df").args(["-Pk", "."]).output();
    let free_kib = out.ok().and_then(|o| {
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        text.lines().nth(1)?.split_whitespace().nth(3)?.parse::<u64>().ok()
    });
    match free_kib {
        Some(kib) => {
            let gib = kib as f64 / (1024.0 * 1024.0);
            eprintln!("xtask: {gib:.1} GiB of disk free {stage}");
            if gib < LOW_DISK_GIB {
                eprintln!(
                    "xtask: warning: under {LOW_DISK_GIB} GiB free; a full build with test images needs about 8 GiB"
                );
            }
        }
        None => eprintln!("xtask: free disk {stage}: `df` did not say"),
    }
}

/// Below this, a CI run from a fresh clone may not fit.
const LOW_DISK_GIB: f64 = 8.0;
