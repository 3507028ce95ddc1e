//! `cargo xtask quickstart`: what a new user does, done from scratch. A project
//! outside the workspace (`target/quickstart`, a workspace of its own) takes the
//! `[dependencies]` lines connector-kafka's and connector-redis's READMEs show, with
//! `[patch.crates-io]` pointing those crates at this checkout (they are not on
//! crates.io yet), and the READMEs' quick starts as its programs, unchanged but for the
//! lines rustdoc hides. Against the test servers (`cargo xtask services`), a `fill`
//! program writes their input, the quick starts run, and a `check` program reads what
//! they wrote with the clients the connectors re-export.

use std::fs;
use std::path::{Path, PathBuf};

use crate::cmd::sh;
use crate::error::XtaskError;
use crate::services;

/// The READMEs whose lines and quick starts the project takes, and the program each
/// quick start becomes.
const QUICK_STARTS: &[(&str, &str)] = &[("connector-kafka", "kafka"), ("connector-redis", "redis")];

pub fn run() -> Result<(), XtaskError> {
    let root = workspace_root();
    let project = root.join("target").join("quickstart");
    write_project(&root, &project)?;
    let needed = services::select(&["kafka".to_string(), "redis".to_string()])?;
    services::up(&needed)?;
    let ran = run_programs(&project);
    let stopped = services::down_quietly(&needed);
    ran.and(stopped)?;
    eprintln!("quickstart: a fresh project with the READMEs' lines built and ran the Kafka and Redis quick starts");
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

fn run_programs(project: &Path) -> Result<(), XtaskError> {
    let manifest = project.join("Cargo.toml");
    let manifest = manifest.to_string_lossy();
    // Its own build directory: nothing of the workspace's build is reused.
    let target = project.join("target");
    let env = [("CARGO_TARGET_DIR", target.to_str().unwrap_or("target")), ("CARGO_INCREMENTAL", "0")];
    let cargo_run = |program: &str| -> Result<(), XtaskError> {
        // The quick starts keep checkpoints in relative directories: run them in the project.
        let args = ["run", "--quiet", "--manifest-path", &manifest, "--bin", program];
        with_dir(project, || sh("cargo", &args, &env))
    };
    sh("cargo", &["build", "--manifest-path", &manifest, "--bins"], &env)?;
    cargo_run("fill")?;
    for (_, program) in QUICK_STARTS {
        cargo_run(program)?;
    }
    cargo_run("check")
}

fn with_dir<T>(dir: &Path, f: impl FnOnce() -> Result<T, XtaskError>) -> Result<T, XtaskError> {
    let back = std::env::current_dir().map_err(|e| XtaskError::io(".", e))?;
    std::env::set_current_dir(dir).map_err(|e| XtaskError::io(dir, e))?;
    let result = f();
    std::env::set_current_dir(&back).map_err(|e| XtaskError::io(&back, e))?;
    result
}

fn write_project(root: &Path, project: &Path) -> Result<(), XtaskError> {
    let bin = project.join("src").join("bin");
    // A fresh start: no checkpoint of an earlier run is restored.
    let _ = fs::remove_dir_all(project.join("checkpoints"));
    fs::create_dir_all(&bin).map_err(|e| XtaskError::io(&bin, e))?;
    let mut dependencies: Vec<String> = Vec::new();
    for (crate_dir, program) in QUICK_STARTS {
        let readme_path = root.join(crate_dir).join("README.md");
        let readme = fs::read_to_string(&readme_path).map_err(|e| XtaskError::io(&readme_path, e))?;
        for line in
            dependency_lines(&readme).ok_or_else(|| missing(&readme_path, "a ```toml block with [dependencies]"))?
        {
            if !dependencies.contains(&line) {
                dependencies.push(line);
            }
        }
        let code =
            quick_start(&readme).ok_or_else(|| missing(&readme_path, "a ```rust block after `## Quick start`"))?;
        write(&bin.join(format!("{program}.rs")), &code)?;
    }
    let patches: Vec<String> = dependencies
        .iter()
        .filter_map(|line| line.split_once(" = ").map(|(name, _)| name.trim().to_string()))
        .filter(|name| root.join(name).join("Cargo.toml").is_file())
        .map(|name| format!("{name} = {{ path = {:?} }}", root.join(&name).to_string_lossy()))
        .collect();
    let manifest = format!(
        "[package]\nname = \"quickstart\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\n{}\n\n[patch.crates-io]\n{}\n\n# Not part of the repository's workspace.\n[workspace]\n",
        dependencies.join("\n"),
        patches.join("\n"),
    );
    write(&project.join("Cargo.toml"), &manifest)?;
    // The workspace's resolution, so that the project builds what CI tested.
    let lock = root.join("Cargo.lock");
    fs::copy(&lock, project.join("Cargo.lock")).map_err(|e| XtaskError::io(&lock, e))?;
    write(&bin.join("fill.rs"), FILL)?;
    write(&bin.join("check.rs"), CHECK)
}

fn missing(path: &Path, what: &str) -> XtaskError {
    XtaskError::Usage(format!("{}: no {what}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<(), XtaskError> {
    fs::write(path, text).map_err(|e| XtaskError::io(path, e))
}

/// The lines of the README's `[dependencies]` block.
fn dependency_lines(readme: &str) -> Option<Vec<String>> {
    let start = readme.find("```toml\n[dependencies]\n")? + "```toml\n[dependencies]\n".len();
    let block = &readme[start..start + readme[start..].find("```")?];
    Some(block.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
}

/// The first rust block after `## Quick start`, with rustdoc's hidden lines shown.
fn quick_start(readme: &str) -> Option<String> {
    let section = &readme[readme.find("## Quick start")?..];
    let start = section.find("```rust")?;
    let body = &section[start + section[start..].find('\n')? + 1..];
    let body = &body[..body.find("```")?];
    let lines: Vec<&str> =
        body.lines().map(|line| if line == "#" { "" } else { line.strip_prefix("# ").unwrap_or(line) }).collect();
    Some(lines.join("\n") + "\n")
}

/// Writes the quick starts' input.
const FILL: &str = r#"//! The quick starts' input: lines in Kafka's `lines`, entries in Redis's `orders`.
use connector_kafka::rdkafka::ClientConfig;
use connector_kafka::rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use connector_kafka::rdkafka::producer::{FutureProducer, FutureRecord};
use connector_redis::redis;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let records: usize = std::env::var("QUICKSTART_RECORDS").ok().and_then(|n| n.parse().ok()).unwrap_or(100);
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", "127.0.0.1:9092");
    let admin: AdminClient<_> = config.create()?;
    for topic in ["lines", "upper-lines"] {
        admin.create_topics(&[NewTopic::new(topic, 1, TopicReplication::Fixed(1))], &AdminOptions::new()).await?;
    }
    let producer: FutureProducer = config.create()?;
    for i in 0..records {
        let line = format!("line {i}");
        let record = FutureRecord::<(), _>::to("lines").payload(&line);
        producer.send(record, std::time::Duration::from_secs(10)).await.map_err(|(e, _)| e)?;
    }
    let mut redis = redis::Client::open("redis://127.0.0.1:6379")?.get_multiplexed_async_connection().await?;
    for i in 0..records {
        let _: String = redis::cmd("XADD").arg("orders").arg("*").arg("amount").arg(i).query_async(&mut redis).await?;
    }
    println!("fill: {records} lines in Kafka topic `lines`, {records} entries in Redis stream `orders`");
    Ok(())
}
"#;

/// Reads back what the quick starts wrote.
const CHECK: &str = r#"//! What the quick starts wrote: every line once, upper-cased, in `upper-lines`
//! (read `read_committed`), and a key per stream entry in Redis.
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use connector_kafka::rdkafka::ClientConfig;
use connector_kafka::rdkafka::Message;
use connector_kafka::rdkafka::consumer::{BaseConsumer, Consumer};
use connector_redis::redis;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let records: usize = std::env::var("QUICKSTART_RECORDS").ok().and_then(|n| n.parse().ok()).unwrap_or(100);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", "127.0.0.1:9092")
        .set("group.id", "quickstart-check")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .create()?;
    consumer.subscribe(&["upper-lines"])?;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.values().sum::<usize>() < records && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(200)) {
            let message = message?;
            let line = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
            *seen.entry(line).or_default() += 1;
        }
    }
    // Anything more (a duplicate) would come right after.
    let settle = Instant::now() + Duration::from_secs(1);
    while Instant::now() < settle {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            let line = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
            *seen.entry(line).or_default() += 1;
        }
    }
    let lost = (0..records).filter(|i| !seen.contains_key(&format!("LINE {i}"))).count();
    let duplicated: usize = seen.values().map(|n| n - 1).sum();
    let unexpected = seen.keys().filter(|line| !(0..records).any(|i| **line == format!("LINE {i}"))).count();
    let mut redis = redis::Client::open("redis://127.0.0.1:6379")?.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS").arg("order:*").query_async(&mut redis).await?;
    println!(
        "check: kafka lost={lost} duplicated={duplicated} unexpected={unexpected}; redis keys={} of {records}",
        keys.len()
    );
    if lost + duplicated + unexpected > 0 || keys.len() != records {
        return Err("the quick starts did not write what they read".into());
    }
    Ok(())
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_blocks_are_found_and_hidden_lines_shown() {
        let readme = "# x\n\n```toml\n[dependencies]\na = \"0.1\"\n\nb = \"1\"\n```\n\n## Quick start\n\n\
                      ```rust,no_run\nuse a::b;\n# fn main() {\nlet x = 1;\n#\n# }\n```\n";
        assert_eq!(dependency_lines(readme).unwrap(), vec!["a = \"0.1\"", "b = \"1\""]);
        assert_eq!(quick_start(readme).unwrap(), "use a::b;\nfn main() {\nlet x = 1;\n\n}\n");
        assert!(quick_start("no section").is_none());
    }
}
