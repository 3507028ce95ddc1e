//! `cargo xtask images [NAMES]`: the test servers' container images, built where no
//! container registry answers: a Debian 12 base made by debootstrap from the machine's
//! Debian mirror and imported, then one recipe per server (`xtask/images/<name>/`)
//! built on it with the version `cargo xtask services` pins. Each image carries the
//! hash of its recipe in a label; an image whose recipe has not changed is not built
//! again.

use std::path::{Path, PathBuf};
use std::time::Instant;

use test_servers::images::{self, RECIPE_LABEL};

use crate::cmd::{sh, sh_output};
use crate::docker::{CLIENT_SOCKET, DOCKER_CLI};
use crate::error::XtaskError;
use crate::services::catalog;

/// One server's image.
struct Recipe {
    name: &'static str,
    image: &'static str,
    version: &'static str,
    /// What the build context gets from this machine, for a server no package
    /// registry serves.
    host: HostCopy,
}

/// A directory of this machine copied into a recipe's build context (by its last
/// name).
enum HostCopy {
    None,
    /// A directory that is there (its version is the recipe's).
    Dir(&'static str),
    /// A directory made first (a server built here); its files count in the
    /// recipe's hash, so a changed build makes a new image.
    Built(fn() -> Result<PathBuf, XtaskError>),
}

/// The images' names.
pub fn names() -> Vec<&'static str> {
    RECIPES.iter().map(|r| r.name).collect()
}

const RECIPES: &[Recipe] = &[
    Recipe { name: "redis", image: images::REDIS, version: catalog::REDIS_VERSION, host: HostCopy::None },
    Recipe { name: "rabbitmq", image: images::RABBITMQ, version: catalog::RABBITMQ_VERSION, host: HostCopy::None },
    Recipe { name: "kafka", image: images::KAFKA, version: catalog::NOIDA_VERSION, host: HostCopy::None },
    Recipe { name: "opensearch", image: images::OPENSEARCH, version: catalog::OSMEM_VERSION, host: HostCopy::None },
    Recipe { name: "moto", image: images::MOTO, version: catalog::MOTO_VERSION, host: HostCopy::None },
    Recipe {
        name: "pubsub",
        image: images::PUBSUB,
        version: catalog::PUBSUB_EMULATOR_VERSION,
        host: HostCopy::Dir(catalog::PUBSUB_EMULATOR_HOME),
    },
    Recipe {
        name: "dynamodb",
        image: images::DYNAMODB,
        version: catalog::DYNAMODB_LOCAL_VERSION,
        host: HostCopy::None,
    },
    Recipe { name: "kinesis", image: images::KINESIS, version: catalog::KINESIS_LOCAL_VERSION, host: HostCopy::None },
    Recipe {
        name: "cassandra",
        image: images::CASSANDRA,
        version: catalog::KASSANDRA_VERSION,
        host: HostCopy::Built(catalog::kassandra_dist),
    },
    Recipe { name: "postgres", image: images::POSTGRES, version: catalog::POSTGRES_VERSION, host: HostCopy::None },
    Recipe { name: "pulsar", image: images::PULSAR, version: catalog::PULSAR_LITE_VERSION, host: HostCopy::None },
    Recipe {
        name: "prometheus",
        image: images::PROMETHEUS,
        version: catalog::PROMETHEUS_VERSION,
        host: HostCopy::None,
    },
    Recipe {
        name: "mongodb",
        image: images::MONGODB,
        version: catalog::MONGOECO_VERSION,
        host: HostCopy::Built(catalog::mongoeco_dist),
    },
];

const SUITE: &str = "bookworm";

fn recipes_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("images")
}

/// FNV-1a, 64 bits: a stable hash of a recipe's inputs.
fn fnv(parts: &[&[u8]]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(&[0xff]) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// The hash of the files of `dir` (names and contents, sorted) and `extra`.
fn recipe_hash(dir: &Path, extra: &[&str]) -> Result<String, XtaskError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| XtaskError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut parts: Vec<Vec<u8>> = extra.iter().map(|s| s.as_bytes().to_vec()).collect();
    for file in &files {
        parts.push(file.file_name().map(|n| n.to_string_lossy().as_bytes().to_vec()).unwrap_or_default());
        parts.push(std::fs::read(file).map_err(|e| XtaskError::io(file, e))?);
    }
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    Ok(fnv(&parts))
}

/// The recipe hash `image` was built from, or `None` when the engine lacks it.
fn built_hash(image: &str) -> Option<String> {
    let format = format!("{{{{ index .Config.Labels \"{RECIPE_LABEL}\" }}}}");
    let out = std::process::Command::new(DOCKER_CLI).args(["image", "inspect", "--format", &format, image]).output();
    out.ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// The Debian mirror the machine's apt sources name (debootstrap needs one).
fn debian_mirror() -> String {
    let sources = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"];
    for file in sources {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let found = text.lines().map(str::trim).filter(|l| !l.starts_with('#')).find_map(|line| {
            let uri = line.strip_prefix("URIs:").map(str::trim).or_else(|| {
                line.strip_prefix("deb ").and_then(|rest| rest.split_whitespace().find(|w| w.starts_with("http")))
            })?;
            (!uri.contains("security")).then(|| uri.split_whitespace().next().unwrap_or(uri).to_string())
        });
        if let Some(uri) = found {
            return uri;
        }
    }
    "http://deb.debian.org/debian".to_string()
}

/// Certificate authorities this machine adds to Debian's (a network that inspects TLS
/// needs them): the images trust them too, or pip and curl fail in the builds.
const EXTRA_CAS: &str = "/usr/local/share/ca-certificates";

/// The base image: debootstrap's minimal Debian 12 with the machine's extra
/// certificate authorities (installed into the trust store by the `ca-certificates`
/// package the recipes add), imported.
fn ensure_base() -> Result<String, XtaskError> {
    let mirror = debian_mirror();
    let cas = Path::new(EXTRA_CAS);
    let ca_hash = if cas.is_dir() { recipe_hash(cas, &[])? } else { String::new() };
    let hash = fnv(&[b"debootstrap --variant=minbase", SUITE.as_bytes(), mirror.as_bytes(), ca_hash.as_bytes()]);
    if built_hash(images::BASE).as_deref() == Some(hash.as_str()) {
        return Ok(hash);
    }
    let started = Instant::now();
    let work = std::env::temp_dir().join(format!("flink-connectors-rs-rootfs-{}", std::process::id()));
    let rootfs = work.join("rootfs").display().to_string();
    let built = sh("debootstrap", &["--variant=minbase", SUITE, &rootfs, &mirror], &[]).and_then(|()| {
        if cas.is_dir() {
            let copy = format!("mkdir -p '{rootfs}{EXTRA_CAS}' && cp -r {EXTRA_CAS}/. '{rootfs}{EXTRA_CAS}/'");
            sh("sh", &["-c", &copy], &[])?;
        }
        // pip trusts its own bundle unless told to use the system's.
        let changes = format!(
            "--change 'LABEL {RECIPE_LABEL}={hash}' --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt'"
        );
        let import = format!("tar -C '{rootfs}' -c . | {DOCKER_CLI} import {changes} - {}", images::BASE);
        sh("sh", &["-c", &import], &[])
    });
    let _ = std::fs::remove_dir_all(&work);
    built?;
    eprintln!("images: {} from {mirror} in {:.1} s", images::BASE, started.elapsed().as_secs_f64());
    Ok(hash)
}

fn ensure(recipe: &Recipe, base_hash: &str) -> Result<(), XtaskError> {
    let dir = recipes_dir().join(recipe.name);
    let (host_dir, host_hash) = match recipe.host {
        HostCopy::None => (None, String::new()),
        HostCopy::Dir(dir) => (Some(PathBuf::from(dir)), String::new()),
        HostCopy::Built(make) => {
            let made = make()?;
            let hash = recipe_hash(&made, &[])?;
            (Some(made), hash)
        }
    };
    let hash = recipe_hash(&dir, &[base_hash, recipe.version, &host_hash])?;
    if built_hash(recipe.image).as_deref() == Some(hash.as_str()) {
        eprintln!("images: {} is up to date", recipe.image);
        return Ok(());
    }
    let started = Instant::now();
    let (base, version, label) =
        (format!("BASE={}", images::BASE), format!("VERSION={}", recipe.version), format!("{RECIPE_LABEL}={hash}"));
    let copied = host_dir.map(|host_dir| with_host_dir(&dir, &host_dir, recipe.name)).transpose()?;
    let context = copied.as_ref().unwrap_or(&dir).display().to_string();
    let args = [
        "build",
        "--force-rm",
        "--network",
        "host",
        "--build-arg",
        &base,
        "--build-arg",
        &version,
        "--label",
        &label,
        "-t",
        recipe.image,
        &context,
    ];
    let built = sh(DOCKER_CLI, &args, &[("DOCKER_BUILDKIT", "0")]);
    if let Some(copied) = copied {
        let _ = std::fs::remove_dir_all(copied);
    }
    built?;
    eprintln!("images: built {} in {:.1} s", recipe.image, started.elapsed().as_secs_f64());
    Ok(())
}

/// A build context of the recipe's files and a copy of `host_dir` (under its last
/// name), in a temporary directory; an error says what is missing.
fn with_host_dir(recipe_dir: &Path, host_dir: &Path, name: &str) -> Result<PathBuf, XtaskError> {
    let host_dir = host_dir.display().to_string();
    if !Path::new(&host_dir).is_dir() {
        return Err(XtaskError::Service {
            service: format!("image {name}"),
            message: format!(
                "{host_dir} is missing: the image copies it from this machine (no package registry serves it)"
            ),
        });
    }
    let context = std::env::temp_dir().join(format!("flink-connectors-rs-context-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&context);
    std::fs::create_dir_all(&context).map_err(|e| XtaskError::io(&context, e))?;
    let copy = format!(
        "cp -r '{}'/. '{}'/ && cp -r '{host_dir}' '{}'/",
        recipe_dir.display(),
        context.display(),
        context.display()
    );
    sh("sh", &["-c", &copy], &[])?;
    Ok(context)
}

/// Build the images named (all when none are) that are missing or out of date.
pub fn build(names: &[String]) -> Result<(), XtaskError> {
    let selected: Vec<&Recipe> = if names.is_empty() {
        RECIPES.iter().collect()
    } else {
        names
            .iter()
            .map(|name| {
                RECIPES.iter().find(|r| r.name == name).ok_or_else(|| {
                    let known: Vec<&str> = RECIPES.iter().map(|r| r.name).collect();
                    XtaskError::Usage(format!("unknown image `{name}`; known: {}", known.join(", ")))
                })
            })
            .collect::<Result<_, _>>()?
    };
    if test_servers::docker::ping(Path::new(CLIENT_SOCKET)).is_err() {
        return Err(XtaskError::Service {
            service: "images".into(),
            message: format!("no Docker engine answers at {CLIENT_SOCKET}: run `cargo xtask docker up` first"),
        });
    }
    let started = Instant::now();
    let base_hash = ensure_base()?;
    for recipe in selected {
        ensure(recipe, &base_hash)?;
    }
    // Layers of images rebuilt since are no longer needed.
    sh_output(DOCKER_CLI, &["image", "prune", "--force"], &[])?;
    let listed = sh_output(DOCKER_CLI, &["images", "--filter", "reference=flink-connectors-rs/*"], &[])?;
    eprint!("{listed}");
    eprintln!("images: ready in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

pub fn run(args: &[String]) -> Result<(), XtaskError> {
    build(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_changes_with_any_input_and_only_then() {
        assert_eq!(fnv(&[b"a", b"bc"]), fnv(&[b"a", b"bc"]));
        assert_ne!(fnv(&[b"a", b"bc"]), fnv(&[b"ab", b"c"]));
        assert_ne!(fnv(&[b"a"]), fnv(&[b"b"]));
    }

    #[test]
    fn every_recipe_has_a_dockerfile_that_takes_the_base_and_the_version() {
        for recipe in RECIPES {
            let file = recipes_dir().join(recipe.name).join("Dockerfile");
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            assert!(text.contains("FROM ${BASE}") && text.contains("ARG VERSION"), "{}", file.display());
        }
    }
}
