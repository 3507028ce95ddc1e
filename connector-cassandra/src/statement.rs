//! What the builder can tell from a statement's text: its kind, and whether a replay
//! could change the result (then exactly-once is refused).

/// Why `statement` is not idempotent, or `None` when a replay writes the same thing.
/// Counter updates and list appends add again on a replay; `now()`, `uuid()` and the
/// current-time functions make a different value each time; a lightweight
/// transaction (`IF ...`) may apply on one run and not on the other.
pub(crate) fn not_idempotent(statement: &str) -> Option<&'static str> {
    let cql = statement.to_ascii_lowercase();
    let compact: String = cql.split_whitespace().collect::<Vec<_>>().join(" ");
    for function in ["now()", "uuid()", "currenttimestamp()", "currentdate()", "currenttime()", "currenttimeuuid()"] {
        if compact.replace(' ', "").contains(function) {
            return Some("it calls a function that gives a new value on each run (now(), uuid(), current...())");
        }
    }
    if compact.split(' ').any(|word| word == "if") {
        return Some("it is a lightweight transaction (IF ...), which may apply on one run and not on a replay");
    }
    if let Some(set) = compact.split(" set ").nth(1) {
        let assignments = set.split(" where ").next().unwrap_or(set);
        for assignment in assignments.split(',') {
            let Some((column, value)) = assignment.split_once('=') else { continue };
            let (column, value) = (column.trim(), value.trim());
            let refers_to_itself = value.split(['+', '-']).map(str::trim).any(|part| part == column);
            if refers_to_itself && (value.contains('+') || value.contains('-')) {
                return Some("it adds to a column (a counter update, or a list append or prepend)");
            }
        }
    }
    None
}

/// Whether `statement` writes (INSERT, UPDATE, DELETE or a BATCH of them).
pub(crate) fn is_write(statement: &str) -> bool {
    let first = statement.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
    matches!(first.as_str(), "insert" | "update" | "delete" | "begin")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_that_would_change_the_result_are_named() {
        assert!(not_idempotent("INSERT INTO ks.t (id, v) VALUES (?, ?)").is_none());
        assert!(not_idempotent("UPDATE ks.t SET v = ? WHERE id = ?").is_none());
        assert!(not_idempotent("UPDATE ks.c SET hits = hits + ? WHERE id = ?").is_some());
        assert!(not_idempotent("UPDATE ks.t SET l = l + [?] WHERE id = ?").is_some());
        assert!(not_idempotent("UPDATE ks.t SET l = [?] + l WHERE id = ?").is_some());
        assert!(not_idempotent("INSERT INTO ks.t (id, at) VALUES (?, now())").is_some());
        assert!(not_idempotent("INSERT INTO ks.t (id, v) VALUES (?, ?) IF NOT EXISTS").is_some());
        assert!(not_idempotent("insert into ks.t (id, u) values (?, uuid ( ))").is_some());
    }

    #[test]
    fn writes_are_told_from_other_statements() {
        assert!(is_write("  INSERT INTO ks.t (id) VALUES (?)"));
        assert!(is_write("delete from ks.t where id = ?"));
        assert!(!is_write("SELECT * FROM ks.t"));
        assert!(!is_write(""));
    }
}
