//! `cargo xtask services up|down|status [names]`: install (pinned, from Debian
//! packages or PyPI), start on 127.0.0.1 with private data under `.services/<name>`,
//! wait until each answers its protocol, write the endpoint variables to
//! `.services/env`, and stop by PID.

pub mod catalog;
pub mod state;

use test_servers::{probe, process};

use std::time::{Duration, Instant};

pub use catalog::{ALL, Service};

use crate::error::XtaskError;

pub fn run(args: &[String]) -> Result<(), XtaskError> {
    let (verb, names) = match args.split_first() {
        Some((verb, names)) => (verb.as_str(), names),
        None => {
            let names: Vec<&str> = catalog::ALL.iter().map(|s| s.name).collect();
            return Err(XtaskError::Usage(format!(
                "usage: cargo xtask services up|down|status|restart|check [{}]",
                names.join(" ")
            )));
        }
    };
    let selected = select(names)?;
    match verb {
        "up" => up(&selected),
        "down" => down(&selected),
        "status" => status(&selected),
        "restart" => down(&selected).and_then(|()| up(&selected)),
        "check" => check(),
        other => Err(XtaskError::Usage(format!("unknown services command `{other}` (up, down, status, restart)"))),
    }
}

/// The services named (all when none are).
pub fn select(names: &[String]) -> Result<Vec<&'static Service>, XtaskError> {
    if names.is_empty() {
        return Ok(ALL.iter().collect());
    }
    names
        .iter()
        .map(|name| {
            ALL.iter().find(|s| s.name == name).ok_or_else(|| {
                let known: Vec<&str> = ALL.iter().map(|s| s.name).collect();
                XtaskError::Usage(format!("unknown service `{name}`; known: {}", known.join(", ")))
            })
        })
        .collect()
}

pub fn up(services: &[&'static Service]) -> Result<(), XtaskError> {
    let started = Instant::now();
    let mut apt_updated = false;
    for service in services {
        if service.answers() {
            eprintln!("{}: already answering at {}", service.name, service.address);
            state::set_env(service.variables, service.endpoint)?;
            continue;
        }
        let t = Instant::now();
        (service.install)(&mut apt_updated)?;
        let dir = state::data_dir(service.name)?;
        let pids = (service.start)(&dir)?;
        state::write_pids(service.name, &pids)?;
        wait_until_ready(service)?;
        // The server's own processes (beam, epmd) are known once it is ready; they
        // are stopped first, the launcher last.
        let mut all = (service.helpers)();
        all.extend(pids);
        let pids = all;
        state::write_pids(service.name, &pids)?;
        state::set_env(service.variables, service.endpoint)?;
        let shown = service.address;
        eprintln!("{}: up at {shown} in {:.1} s (pids {pids:?})", service.name, t.elapsed().as_secs_f64());
    }
    eprintln!("services up in {:.1} s; endpoints in {}", started.elapsed().as_secs_f64(), state::env_file()?.display());
    Ok(())
}

fn wait_until_ready(service: &Service) -> Result<(), XtaskError> {
    probe::wait_until(service.probe, service.address, service.ready_timeout).map_err(|last| XtaskError::Service {
        service: service.name.into(),
        message: match state::data_dir(service.name) {
            Ok(dir) => {
                format!("did not answer within {:?} ({last}); see its log in {}", service.ready_timeout, dir.display())
            }
            Err(e) => format!("did not answer within {:?} ({last}); {e}", service.ready_timeout),
        },
    })
}

pub fn down(services: &[&'static Service]) -> Result<(), XtaskError> {
    stop(services, true)
}

/// Stop without printing (CI keeps the test runner's summary as its last line).
pub fn down_quietly(services: &[&'static Service]) -> Result<(), XtaskError> {
    stop(services, false)
}

/// The endpoint variables written by `up`.
pub fn endpoint_vars() -> Result<Vec<(String, String)>, XtaskError> {
    state::env_vars()
}

fn stop(services: &[&'static Service], verbose: bool) -> Result<(), XtaskError> {
    for service in services {
        let pids = state::read_pids(service.name)?;
        for pid in &pids {
            process::stop(*pid, Duration::from_secs(10));
        }
        state::clear_pids(service.name)?;
        state::unset_env(service.variables)?;
        if verbose && !pids.is_empty() {
            eprintln!("{}: stopped pids {pids:?}", service.name);
        }
    }
    Ok(())
}

/// What CI checks of the host-process path (the tests themselves run against
/// containers): every server starts and answers its protocol, `status` reads it, and
/// after `down` none of their processes is left running.
pub fn check() -> Result<(), XtaskError> {
    let services: Vec<&'static Service> = ALL.iter().collect();
    let checked = up(&services).and_then(|()| {
        status(&services)?;
        let silent: Vec<&str> = services.iter().filter(|s| !s.answers()).map(|s| s.name).collect();
        if silent.is_empty() {
            Ok(())
        } else {
            Err(XtaskError::Service { service: silent.join(", "), message: "not answering after `up`".into() })
        }
    });
    let mut pids = Vec::new();
    for service in &services {
        pids.extend(state::read_pids(service.name)?);
    }
    let stopped = down(&services);
    let left: Vec<u32> = pids.into_iter().filter(|p| process::alive(*p)).collect();
    checked.and(stopped)?;
    if !left.is_empty() {
        return Err(XtaskError::Service {
            service: "services".into(),
            message: format!("processes still running after `down`: {left:?}"),
        });
    }
    eprintln!("services: every server started, answered and stopped; none of their processes is left");
    Ok(())
}

pub fn status(services: &[&'static Service]) -> Result<(), XtaskError> {
    for service in services {
        let pids = state::read_pids(service.name)?;
        let alive: Vec<u32> = pids.iter().copied().filter(|p| process::alive(*p)).collect();
        let answer = match (service.probe)(service.address) {
            Ok(()) => "answering".to_string(),
            Err(e) => format!("not answering ({e})"),
        };
        println!("{:<9} {:<40} pids alive {alive:?} of {pids:?}; {answer}", service.name, service.address);
    }
    Ok(())
}
