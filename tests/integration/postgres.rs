//! load-facts --load-to postgres://… against the throw-away cluster `scripts/test.sh`
//! starts (IGPIPE_TEST_PG_URL, IGPIPE_TEST_PG_ADMIN_URL). Each test gets a database of its
//! own. Expected rows are the hand-computed ones of `facts::history_matches_hand_computed_values`.

use crate::facts::{assert_ok, check_named, quality_report, staged_lake, DATE};
use crate::harness::{LocalLake, Run, TestLake};
use std::sync::atomic::{AtomicU32, Ordering};
use tokio_postgres::{Client, NoTls};

const DAY_BEFORE: &str = "2024-05-05";

/// A fresh database on the test cluster, dropped with the value.
struct Database {
    url: String,
    admin_url: String,
    name: String,
}

static NEXT_DB: AtomicU32 = AtomicU32::new(0);

fn var(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| {
        panic!("{key} is not set: run the PostgreSQL tests through scripts/test.sh, which starts the cluster")
    })
}

impl Database {
    fn new() -> Database {
        let admin_url = var("IGPIPE_TEST_PG_ADMIN_URL");
        let base = var("IGPIPE_TEST_PG_URL");
        let name = format!(
            "igpipe_t{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::SeqCst)
        );
        block_on(async {
            let admin = connect(&admin_url).await;
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
        });
        let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
        Database {
            url,
            admin_url,
            name,
        }
    }

    /// The password in the URL, which no output may show.
    fn password(&self) -> String {
        let userinfo = self
            .url
            .split("://")
            .nth(1)
            .unwrap()
            .split('@')
            .next()
            .unwrap();
        userinfo.split(':').nth(1).unwrap().to_string()
    }

    fn execute(&self, sql: &str) {
        block_on(async { connect(&self.url).await.batch_execute(sql).await.unwrap() });
    }

    /// Every row of `history` as text, in id order: what "exactly as it was" compares.
    fn history(&self) -> Vec<String> {
        self.query("SELECT row_to_json(h)::text FROM history h ORDER BY id")
    }

    fn query(&self, sql: &str) -> Vec<String> {
        block_on(async {
            let client = connect(&self.url).await;
            let rows = client.query(sql, &[]).await.unwrap();
            rows.iter().map(|r| r.get::<_, String>(0)).collect()
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        block_on(async {
            let admin = connect(&self.admin_url).await;
            // A test may leave a connection behind (the dropped-connection case).
            let _ = admin
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
        });
    }
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// aggregate-posts then load-facts --load-to for `date`.
fn load(lake: &LocalLake, db: &Database, date: &str) -> Run {
    assert_ok(&lake.igpipe(&["aggregate-posts", "--date", date]));
    lake.igpipe(&["load-facts", "--date", date, "--load-to", &db.url])
}

fn assert_no_password(run: &Run, db: &Database) {
    let password = db.password();
    assert!(
        !run.stdout.contains(&password) && !run.stderr.contains(&password),
        "the password leaked:\n{}\n{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn the_mart_lands_in_history_with_arrays_and_jsonb() {
    let (lake, db) = (LocalLake::new(), Database::new());
    staged_lake(&lake);
    let run = load(&lake, &db, DATE);
    assert_ok(&run);
    assert_no_password(&run, &db);
    assert_eq!(run.report["load"]["rows_staged"], 8);
    assert_eq!(run.report["load"]["rows_merged"], 8);
    assert!(run.report["load"]["target"]
        .as_str()
        .unwrap()
        .contains("igpipe:***@127.0.0.1"));
    // 7001 (see facts.rs): username changed, a -1 follower count is a null in the list,
    // fol_avg = (100 + 130) / 2, engagement_rate = 10 / 130.
    let row = db.query(
        "SELECT concat_ws(' | ', username, as_of, dates, followers, impressions, doc_count, \
         fol_avg, round(engagement_rate::numeric, 6), colors IS NULL) FROM history WHERE id = '7001'",
    );
    assert_eq!(
        row,
        [
            "new_name | 2024-05-06 | {2024-05-04,2024-05-05,2024-05-06} | {100,NULL,130} | \
          {NULL,NULL,NULL} | 3 | 115 | 0.076923 | t"
        ]
    );
    assert_eq!(
        db.query("SELECT string_agg(id, ',' ORDER BY id) FROM history"),
        ["1001,1002,1003,1004,1005,17841400036094485,7001,7003"]
    );
    // 1002 has 29 dates (no stats file for 2024-04-20); 1001 is basic: 30 null impressions.
    assert_eq!(
        db.query(
            "SELECT concat_ws(',', cardinality(dates), followers[1], followers[29]) \
             FROM history WHERE id = '1002'"
        ),
        ["29,37060,37350"]
    );
    assert_eq!(
        db.query(
            "SELECT count(*)::text FROM history, unnest(impressions) i \
             WHERE id = '1001' AND i IS NULL"
        ),
        ["30"]
    );
}

#[test]
fn colors_are_jsonb_that_can_be_queried() {
    let (lake, db) = (LocalLake::new(), Database::new());
    staged_lake(&lake);
    crate::facts::write_parquet(
        &lake,
        "marts/palettes/date=2024-05-01/part-0.parquet",
        crate::facts::palette_frame(
            &[(
                "1001",
                r##"[{"percentage": 1.0, "red": 221, "green": 194, "blue": 178, "hex": "#ddc2b2"}]"##,
            )],
            19844,
        ),
    );
    assert_ok(&load(&lake, &db, DATE));
    assert_eq!(
        db.query(
            "SELECT concat_ws(' ', colors->0->>'hex', palette_date) FROM history WHERE id = '1001'"
        ),
        ["#ddc2b2 2024-05-01"]
    );
}

#[test]
fn reloading_a_date_is_idempotent() {
    let (lake, db) = (LocalLake::new(), Database::new());
    staged_lake(&lake);
    assert_ok(&load(&lake, &db, DATE));
    let first = db.history();
    let run = load(&lake, &db, DATE);
    assert_ok(&run);
    assert_eq!(run.report["load"]["rows_merged"], 8, "same date: replaced");
    assert_eq!(db.history(), first);
}

#[test]
fn an_older_date_never_overwrites_a_newer_row() {
    let (lake, db) = (LocalLake::new(), Database::new());
    staged_lake(&lake);
    assert_ok(&load(&lake, &db, DATE));
    let newer = db.history();
    // 2024-05-05's mart has 7 of the 8 creators (7003's only stats file is dated
    // 2024-05-06), all with an older as_of.
    let run = load(&lake, &db, DAY_BEFORE);
    assert_ok(&run);
    assert_eq!(run.report["load"]["rows_staged"], 7);
    assert_eq!(run.report["load"]["rows_merged"], 0);
    assert_eq!(db.history(), newer);
    assert_eq!(
        db.query("SELECT string_agg(DISTINCT as_of::text, ',') FROM history"),
        ["2024-05-06"]
    );
}

#[test]
fn a_newer_date_replaces_the_older_rows() {
    let (lake, db) = (LocalLake::new(), Database::new());
    staged_lake(&lake);
    assert_ok(&load(&lake, &db, DAY_BEFORE));
    // On 2024-05-05, 7001's newest username is still old_name (05-05's is null).
    assert_eq!(
        db.query(
            "SELECT concat_ws(' ', username, as_of, followers) FROM history WHERE id = '7001'"
        ),
        ["old_name 2024-05-05 {100,NULL}"]
    );
    assert_ok(&load(&lake, &db, DATE));
    assert_eq!(
        db.query(
            "SELECT concat_ws(' ', username, as_of, followers) FROM history WHERE id = '7001'"
        ),
        ["new_name 2024-05-06 {100,NULL,130}"]
    );
}

/// A trigger on `history` that runs `action` when the merge reaches creator 7003, the last
/// id in the mart: by then the other seven rows are already updated in the transaction.
fn sabotage_the_merge(db: &Database, action: &str) {
    db.execute(&format!(
        "CREATE FUNCTION sabotage() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.id = '7003' THEN {action} END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER sabotage BEFORE INSERT OR UPDATE ON history
           FOR EACH ROW EXECUTE FUNCTION sabotage();"
    ));
}

#[test]
fn a_merge_that_fails_half_way_leaves_history_as_it_was() {
    let (lake, db) = (LocalLake::new(), Database::new());
    staged_lake(&lake);
    assert_ok(&load(&lake, &db, DAY_BEFORE));
    let before = db.history();
    sabotage_the_merge(&db, "RAISE EXCEPTION 'merge sabotaged at %', NEW.id;");
    let run = load(&lake, &db, DATE);
    let error = run.error();
    assert!(
        error.contains("merge_history.sql") && error.contains("merge sabotaged at 7003"),
        "{error}"
    );
    assert_no_password(&run, &db);
    assert_eq!(db.history(), before);
    // The table is usable again once the cause is gone.
    db.execute("DROP TRIGGER sabotage ON history");
    assert_ok(&load(&lake, &db, DATE));
    assert_eq!(
        db.query("SELECT string_agg(DISTINCT as_of::text, ',') FROM history"),
        ["2024-05-06"]
    );
}

#[test]
fn a_connection_dropped_mid_merge_leaves_history_as_it_was() {
    let (lake, db) = (LocalLake::new(), Database::new());
    staged_lake(&lake);
    assert_ok(&load(&lake, &db, DAY_BEFORE));
    let before = db.history();
    // The server ends the load's own connection in the middle of the merge.
    sabotage_the_merge(
        &db,
        "PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5);",
    );
    let run = load(&lake, &db, DATE);
    let error = run.error();
    assert!(
        error.contains("loading history into")
            && (error.contains("terminating connection") || error.contains("connection closed")),
        "{error}"
    );
    assert_no_password(&run, &db);
    assert_eq!(db.history(), before);
}

#[test]
fn a_wrong_password_fails_naming_the_server_without_the_password() {
    let (lake, db) = (LocalLake::new(), Database::new());
    staged_lake(&lake);
    assert_ok(&lake.igpipe(&["aggregate-posts", "--date", DATE]));
    let wrong = db.url.replace(&db.password(), "not-the-password-42");
    let run = lake.igpipe(&["load-facts", "--date", DATE, "--load-to", &wrong]);
    let error = run.error();
    assert!(
        error.contains("connecting to postgres://igpipe:***@127.0.0.1"),
        "{error}"
    );
    assert!(!format!("{}{}", run.stdout, run.stderr).contains("not-the-password-42"));
}

#[test]
fn the_target_may_come_from_igpipe_load_to() {
    let (lake, db) = (LocalLake::new(), Database::new());
    staged_lake(&lake);
    assert_ok(&lake.igpipe(&["aggregate-posts", "--date", DATE]));
    let run = lake.igpipe_with(
        &["load-facts", "--date", DATE],
        &[("IGPIPE_LOAD_TO", &db.url)],
    );
    assert_ok(&run);
    assert_no_password(&run, &db);
    assert_eq!(db.query("SELECT count(*)::text FROM history"), ["8"]);
}

#[test]
fn quality_check_compares_the_warehouse_with_the_mart() {
    let (lake, db) = (LocalLake::new(), Database::new());
    staged_lake(&lake);
    assert_ok(&load(&lake, &db, DATE));
    let check =
        |lake: &LocalLake| lake.igpipe(&["quality-check", "--date", DATE, "--load-to", &db.url]);
    let run = check(&lake);
    assert_ok(&run);
    assert_no_password(&run, &db);
    assert!(
        run.stderr.contains("warehouse.history_rows"),
        "{}",
        run.stderr
    );
    // A row lost in the warehouse: 7 rows for 2024-05-06 against the mart's 8.
    db.execute("DELETE FROM history WHERE id = '7003'");
    let run = check(&lake);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let check = check_named(&quality_report(&lake), "warehouse.history_rows");
    assert_eq!(check["outcome"], "fail", "{check}");

    // A backfill of 2024-05-05 after 2024-05-06: every row stays at 05-06 (newer), and the
    // check passes, with 0 rows dated 05-05 and 7 newer against the mart's 7.
    assert_ok(&load(&lake, &db, DAY_BEFORE));
    let run = lake.igpipe(&["quality-check", "--date", DAY_BEFORE, "--load-to", &db.url]);
    assert!(
        run.stderr
            .contains("0 rows with as_of = the date and 7 newer"),
        "{}",
        run.stderr
    );
    assert_ok(&run);
}

#[test]
fn sslmode_in_the_url_is_honoured() {
    let (lake, db) = (LocalLake::new(), Database::new());
    staged_lake(&lake);
    assert_ok(&lake.igpipe(&["aggregate-posts", "--date", DATE]));
    // The test cluster has no TLS: disable works, require must refuse to go on in clear.
    let plain = format!("{}?sslmode=disable", db.url);
    assert_ok(&lake.igpipe(&["load-facts", "--date", DATE, "--load-to", &plain]));
    let tls = format!("{}?sslmode=require", db.url);
    let run = lake.igpipe(&["load-facts", "--date", DATE, "--load-to", &tls]);
    let error = run.error();
    assert!(
        error.contains("connecting to")
            && error.contains("sslmode=require")
            && error.contains("TLS"),
        "{error}"
    );
    assert_no_password(&run, &db);
}

#[test]
fn a_load_blocked_by_a_lock_gives_up_at_the_load_timeout() {
    let (lake, db) = (LocalLake::new(), Database::new());
    staged_lake(&lake);
    assert_ok(&load(&lake, &db, DAY_BEFORE));
    let before = db.history();
    // Another session holds history locked, in a transaction it never ends.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let locker = runtime.block_on(async {
        let client = connect(&db.url).await;
        client
            .batch_execute("BEGIN; LOCK TABLE history IN ACCESS EXCLUSIVE MODE")
            .await
            .unwrap();
        client
    });
    assert_ok(&lake.igpipe(&["aggregate-posts", "--date", DATE]));
    let started = std::time::Instant::now();
    let run = lake.igpipe(&[
        "load-facts",
        "--date",
        DATE,
        "--load-to",
        &db.url,
        "--load-timeout",
        "1",
    ]);
    let error = run.error();
    assert!(error.contains("statement timeout"), "{error}");
    assert!(started.elapsed().as_secs() < 20, "gave up in time");
    drop(locker);
    drop(runtime);
    assert_eq!(db.history(), before);
}
