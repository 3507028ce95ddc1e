//! `kassandra-server --host 127.0.0.1 --port 9042`: one in-memory kassandra node
//! answering the CQL v4 protocol on every connection to the address (the same loop as
//! kassandra's own tester, which serves an ephemeral port only). Requests are handled
//! one at a time against one shared session, as a single node would order them.

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::{SinkExt, StreamExt};
use kassandra::KassandraSession;
use kassandra::error::DbError;
use kassandra::frame::request::Request;
use kassandra::frame::response::Response;
use kassandra::frame::response::error::Error;
use kassandra::frame::{request_stream, response_sink};
use tokio::net::{TcpListener, TcpStream};

type Shared = Rc<RefCell<KassandraSession>>;

fn usage() -> ! {
    eprintln!("usage: kassandra-server [--host 127.0.0.1] [--port 9042]");
    std::process::exit(2);
}

/// `--host` and `--port` from the command line.
fn address() -> String {
    let (mut host, mut port) = ("127.0.0.1".to_string(), "9042".to_string());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--host", Some(value)) => host = value,
            ("--port", Some(value)) if value.parse::<u16>().is_ok() => port = value,
            _ => usage(),
        }
    }
    format!("{host}:{port}")
}

/// The answer to one request.
fn answer(session: &Shared, request: Request) -> Response {
    let mut session = session.borrow_mut();
    let result = match request {
        Request::StartUp(_) | Request::Register { .. } => return Response::Ready,
        Request::Options => return Response::options(),
        Request::Query(query) => session.process(query),
        Request::Prepare(prepare) => session.prepare(prepare),
        Request::Execute(execute) => session.execute(execute),
        Request::Batch(batch) => session.process_batch(batch),
        Request::AuthResponse => Err(Error::new(DbError::ProtocolError, "this server has no authentication")),
    };
    match result {
        Ok(result) => Response::Result(result),
        Err(error) => Response::Error(error),
    }
}

async fn serve(session: Shared, mut stream: TcpStream) {
    let (mut read, mut write) = stream.split();
    let mut requests = request_stream(&mut read);
    let mut responses = response_sink(&mut write);
    while let Some(frame) = requests.next().await {
        let Ok((frame, opcode, data)) = frame else { break };
        let response = match Request::deserialize(opcode, &data, frame.flags) {
            Ok(request) => answer(&session, request),
            Err(_) => Response::Error(Error::new(DbError::ProtocolError, "cannot parse the request")),
        };
        if responses.send((response, frame.stream)).await.is_err() {
            break;
        }
    }
}

fn main() {
    let address = address();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kassandra-server: cannot start a runtime: {e}");
            std::process::exit(1);
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = match TcpListener::bind(&address).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("kassandra-server: cannot listen on {address}: {e}");
                std::process::exit(1);
            }
        };
        eprintln!("kassandra-server: listening on {address}");
        let session: Shared = Rc::new(RefCell::new(KassandraSession::new()));
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    if let Ok((stream, _)) = accepted {
                        // As Cassandra does (Netty's tcpNoDelay): without it each lone
                        // answer waits for the client's delayed ACK, about 40 ms.
                        let _ = stream.set_nodelay(true);
                        tokio::task::spawn_local(serve(session.clone(), stream));
                    }
                }
                _ = tokio::signal::ctrl_c() => break,
            }
        }
    });
}
