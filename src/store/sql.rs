//! The one SQL implementation of [`Store`], compiled once per backend.
//!
//! The queries are written in the SQL that PostgreSQL and SQLite share (`$n` parameters,
//! `on conflict`, `returning`, `current_timestamp`, `cast(… as bigint)`), so both backends
//! run the same statements. sqlx's per-database types make one generic impl impractical,
//! so each backend module includes this file as its own `sql` module, after naming its
//! store `SqlStore`; what differs between backends is the [`SqlBackend`] trait.

use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};

use sqlx::pool::PoolConnection;
use sqlx::query::{Query, QueryAs};
use sqlx::{Database, FromRow, Pool, QueryBuilder, Transaction};

use super::SqlStore;
use crate::domain::{
    Ballot, MAX_OPTIONS, NewPoll, OwnerChange, Page, Place, Poll, PollContent, PollOption, Protection, Refusal,
    ResultsShown, SHOWN_MINUTES, Settings, Theme, ThemeContent, ThemeStats, Timeline, Totals, VoteOutcome, VoterId,
    VotesOverTime, minute_of, unix_now,
};
use crate::store::{PollFilter, PoolStats, SeedReport, SqlBackend, StandbyState, Store, StoreError, StoreResult};

type Db = <SqlStore as SqlBackend>::Db;

/// Whether statements are prepared once per connection under a name and kept: not through
/// a transaction pooler, where the next transaction may meet another server connection.
const NAMED: bool = !SqlStore::TRANSACTION_POOLED;

/// A statement, named and kept per connection when [`NAMED`].
fn query(sql: &'static str) -> Query<'static, Db, <Db as Database>::Arguments> {
    sqlx::query(sql).persistent(NAMED)
}

/// A statement whose rows are read as `O`, named and kept per connection when [`NAMED`].
fn query_as<O>(sql: &'static str) -> QueryAs<'static, Db, O, <Db as Database>::Arguments>
where
    O: for<'r> FromRow<'r, <Db as Database>::Row>,
{
    sqlx::query_as(sql).persistent(NAMED)
}

/// A connection for statements outside a transaction of their own. Through a transaction
/// pooler it is a transaction: sqlx prepares a statement and runs it in two exchanges, and
/// PgBouncer keeps a client on one server connection only for a transaction.
enum Session {
    Own(PoolConnection<Db>),
    Pinned(Transaction<'static, Db>),
}

impl Session {
    async fn on(pool: &Pool<Db>) -> StoreResult<Self> {
        Ok(if SqlStore::TRANSACTION_POOLED {
            Self::Pinned(pool.begin().await?)
        } else {
            Self::Own(pool.acquire().await?)
        })
    }

    fn conn(&mut self) -> &mut <Db as Database>::Connection {
        match self {
            Self::Own(connection) => connection,
            Self::Pinned(tx) => tx,
        }
    }

    /// Ends the transaction, if it is one.
    async fn done(self) -> StoreResult<()> {
        if let Self::Pinned(tx) = self {
            commit(tx).await?;
        }
        Ok(())
    }
}

/// Commits `tx`. A connection lost during the commit (the server, or a pooler between,
/// gone) leaves it unknown whether the commit took effect: [`StoreError::CommitInDoubt`],
/// so nobody is told "nothing was saved" of a commit that may have happened.
async fn commit(tx: Transaction<'_, Db>) -> StoreResult<()> {
    tx.commit().await.map_err(|error| match StoreError::from(error) {
        StoreError::Database(error)
            if matches!(&error, sqlx::Error::Io(_) | sqlx::Error::Protocol(_))
                || matches!(&error, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("08"))) =>
        {
            StoreError::CommitInDoubt(error)
        }
        other => other,
    })
}

/// Runs `read` on a pool for page reads: a standby that is up and close enough behind, in
/// turn, else the primary. Whatever goes wrong on the standby (an error, or no answer
/// within its patience) the read runs again on the primary: the standby's trouble never
/// reaches the reader, nor the database's breaker. A standby that is unreachable or slow is
/// marked down until its next check; one that refused this read alone (a conflict with
/// its replay, say) stays.
async fn on_pages<'s, T, F, Fut>(store: &'s SqlStore, read: F) -> StoreResult<T>
where
    F: Fn(&'s Pool<Db>) -> Fut,
    Fut: std::future::Future<Output = StoreResult<T>>,
{
    if let Some((pool, standby)) = store.standby() {
        match tokio::time::timeout(standby.patience(), read(pool)).await {
            Ok(Ok(answer)) => return Ok(answer),
            Ok(Err(error)) if error.is_outage() || matches!(error, StoreError::Database(sqlx::Error::PoolTimedOut)) => {
                standby.failed(&error);
            }
            Ok(Err(error)) => tracing::debug!(%error, "a read standby refused a read; asking the primary"),
            Err(_) => standby.failed(&"no answer within its patience"),
        }
    }
    read(store.reader()).await
}

/// A theme row: id, key, slug, name, icon, color, description.
type ThemeRow = (i64, String, String, String, String, String, String);

fn theme((id, key, slug, name, icon, color, description): ThemeRow) -> Theme {
    Theme { id, key, slug, name, icon, color, description }
}

/// One row of a poll joined with one of its options: every column the domain's [`Poll`]
/// needs, read in one statement so the state and the counters are from one moment.
#[derive(sqlx::FromRow)]
struct PollRow {
    id: i64,
    theme_id: i64,
    question: String,
    closed: bool,
    max_choices: i32,
    results_shown: String,
    protection: String,
    closes_at: Option<i64>,
    voters: i64,
    revision: i64,
    held: bool,
    stage_poll_id: Option<i64>,
    closed_minute: Option<i64>,
    option_id: i64,
    option_text: String,
    option_votes: i64,
}

/// The columns of [`PollRow`], for `select {POLL_COLUMNS} from polls p join options o …`.
macro_rules! poll_select {
    ($rest:literal) => {
        concat!(
            "select p.id, p.theme_id, p.question, p.closed_at is not null as closed, p.max_choices,
                    p.results_shown, p.protection, p.closes_at, p.voters, p.revision,
                    p.held, p.stage_poll_id, p.closed_minute,
                    o.id as option_id, o.text as option_text, o.votes as option_votes
               from polls p join options o on o.poll_id = p.id ",
            $rest
        )
    };
}

/// Polls and their options, in order, assembled from joined rows (ordered by poll, then
/// option position).
fn assemble(rows: Vec<PollRow>) -> Vec<Poll> {
    let mut polls: Vec<Poll> = Vec::new();
    for row in rows {
        let option = PollOption { id: row.option_id, text: row.option_text, votes: row.option_votes };
        match polls.last_mut() {
            Some(poll) if poll.id == row.id => poll.options.push(option),
            _ => polls.push(Poll {
                id: row.id,
                theme_id: row.theme_id,
                question: row.question,
                closed: row.closed,
                max_choices: u8::try_from(row.max_choices).unwrap_or(1),
                settings: Settings {
                    results: ResultsShown::parse(&row.results_shown).unwrap_or_default(),
                    protection: Protection::parse(&row.protection).unwrap_or_default(),
                    closes_at: row.closes_at,
                },
                voters: row.voters,
                revision: row.revision,
                options: vec![option],
                held: row.held,
                stage: row.stage_poll_id,
                timeline: VotesOverTime { closed_minute: row.closed_minute, ..VotesOverTime::default() },
            }),
        }
    }
    polls
}

async fn insert_poll(
    tx: &mut Transaction<'_, Db>,
    theme_id: i64,
    poll: &PollContent,
    owner: Option<(&NewPoll, &str)>,
) -> StoreResult<i64> {
    let (max_choices, settings, manage_hash) = match owner {
        Some((new, digest)) => (new.max_choices, new.settings, Some(digest)),
        None => (1, Settings::default(), None),
    };
    let (poll_id,): (i64,) = query_as(
        "insert into polls (theme_id, question, max_choices, results_shown, protection, closes_at, manage_hash)
         values ($1, $2, $3, $4, $5, $6, $7) returning id",
    )
    .bind(theme_id)
    .bind(poll.question.as_str())
    .bind(i32::from(max_choices))
    .bind(settings.results.as_str())
    .bind(settings.protection.as_str())
    .bind(settings.closes_at)
    .bind(manage_hash)
    .fetch_one(&mut **tx)
    .await?;
    query("update themes set poll_count = poll_count + 1 where id = $1").bind(theme_id).execute(&mut **tx).await?;
    for (position, option) in (0_i32..).zip(&poll.options) {
        query("insert into options (poll_id, position, text) values ($1, $2, $3)")
            .bind(poll_id)
            .bind(position)
            .bind(option.as_str())
            .execute(&mut **tx)
            .await?;
    }
    Ok(poll_id)
}

/// The theme's id, and whether it had to be added.
async fn seed_theme(tx: &mut Transaction<'_, Db>, position: i32, seed: &Theme<()>) -> StoreResult<(i64, bool)> {
    let inserted: Option<(i64,)> = query_as(
        "insert into themes (key, slug, name, icon, color, description, position)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict do nothing
         returning id",
    )
    .bind(&seed.key)
    .bind(&seed.slug)
    .bind(&seed.name)
    .bind(&seed.icon)
    .bind(&seed.color)
    .bind(&seed.description)
    .bind(position)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some((id,)) = inserted {
        return Ok((id, true));
    }
    let (id,): (i64,) = query_as("select id from themes where slug = $1 or key = $2 order by slug = $1 desc limit 1")
        .bind(&seed.slug)
        .bind(&seed.key)
        .fetch_one(&mut **tx)
        .await?;
    Ok((id, false))
}

/// `sql` with each `$n` written as the integer `binds[n - 1]` (a negative one in
/// parentheses: `-$1` must not become a `--` comment): nothing but integers is ever
/// written into a statement's text. Our statements hold no `$` inside a string.
fn with_integers(sql: &str, binds: &[i64]) -> String {
    let mut text = String::with_capacity(sql.len() + 8 * binds.len());
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        text.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let bind = after[..digits].parse::<usize>().ok().and_then(|n| binds.get(n.checked_sub(1)?));
        match bind {
            Some(value) if *value < 0 => text.push_str(&format!("({value})")),
            Some(value) => text.push_str(&value.to_string()),
            // Not a parameter of ours: kept as it is.
            None => text.push_str(&rest[at..=at + digits]),
        }
        rest = &after[digits..];
    }
    text.push_str(rest);
    text
}

/// Rows of `sql`, whose only parameters are the integers `binds`, read from `pool`.
/// Through a transaction pooler this is one exchange of the simple protocol, the integers
/// written into the text: no statement to prepare, so no transaction to hold a server
/// connection for it (four round trips become one). Elsewhere a prepared statement.
async fn read_rows<O>(pool: &Pool<Db>, sql: &'static str, binds: &[i64]) -> StoreResult<Vec<O>>
where
    O: for<'r> FromRow<'r, <Db as Database>::Row> + Send + Unpin,
{
    if SqlStore::TRANSACTION_POOLED {
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(with_integers(sql, binds))).fetch_all(pool).await?;
        return Ok(rows.iter().map(O::from_row).collect::<Result<_, _>>()?);
    }
    let mut rows = query_as(sql);
    for bind in binds {
        rows = rows.bind(*bind);
    }
    Ok(rows.fetch_all(pool).await?)
}

/// Polls with their options from one joined query taking `binds` in order, read from `pool`.
async fn load_polls(pool: &Pool<Db>, sql: &'static str, binds: &[i64]) -> StoreResult<Vec<Poll>> {
    Ok(assemble(read_rows(pool, sql, binds).await?))
}

/// A poll with its options, by id.
const POLL_BY_ID: &str = poll_select!("where p.id = $1 order by o.position");

/// A poll's latest minutes with votes, newest first: what its pages draw.
const SHOWN_TIMELINE: &str =
    "select minute, votes from poll_minutes where poll_id = $1 order by minute desc limit 1440";
const _: () = assert!(SHOWN_MINUTES == 1440, "SHOWN_TIMELINE's limit is SHOWN_MINUTES");

/// A poll by id with the minutes its pages draw, read from `pool`.
async fn poll_with_timeline(pool: &Pool<Db>, id: i64) -> StoreResult<Option<Poll>> {
    let Some(mut poll) = load_polls(pool, POLL_BY_ID, &[id]).await?.pop() else { return Ok(None) };
    let mut minutes: Vec<(i64, i64)> = read_rows(pool, SHOWN_TIMELINE, &[id]).await?;
    minutes.reverse();
    poll.timeline.minutes = minutes;
    poll.timeline.complete = true;
    Ok(Some(poll))
}

/// How many of a theme's polls come before (or are) `$2` (`$1` the theme).
const COUNT_UP_TO: &str = "select count(*) from polls where theme_id = $1 and id <= $2";

/// Where `poll_id` stands among its theme's polls, counted from the nearer end, each side
/// capped: a poll near either end of a big theme reads a few index entries, not the whole theme.
async fn place_in_theme(pool: &Pool<Db>, theme_id: i64, poll_id: i64) -> StoreResult<Place> {
    // The theme's poll count, the polls after (capped: the cap written in the text, for the
    // planner), those up to it (capped), the next.
    const PLACE: &str = "select (select cast(poll_count as bigint) from themes where id = $1),
            (select count(*) from (select 1 from polls where theme_id = $1 and id > $2 limit 1000) counted),
            (select count(*) from (select 1 from polls where theme_id = $1 and id <= $2 limit 1000) counted),
            (select min(id) from polls where theme_id = $1 and id > $2),
            (select max(id) from polls where theme_id = $1 and id < $2)";
    const _: () = assert!(PLACE_CAP == 1000, "PLACE's limits are PLACE_CAP");
    // The count, those after and before (capped), the next and the previous poll.
    type Counts = (i64, i64, i64, Option<i64>, Option<i64>);
    let rows: Vec<Counts> = read_rows(pool, PLACE, &[theme_id, poll_id]).await?;
    let (of, after, before, next, previous) = rows.first().copied().unwrap_or_default();
    let position = if after < PLACE_CAP {
        of - after
    } else if before < PLACE_CAP {
        before
    } else {
        // Deep in the middle of a big theme: the whole count, once.
        let counted: Vec<(i64,)> = read_rows(pool, COUNT_UP_TO, &[theme_id, poll_id]).await?;
        counted.first().map_or(0, |(n,)| *n)
    };
    Ok(Place { position: position.clamp(1, of.max(1)), of: of.max(1), next, previous })
}

/// A page's binds: the id to start after (0: from the start; ids are positive) and the size.
fn page_binds(page: Page) -> [i64; 2] {
    [page.after.unwrap_or(0), i64::from(page.size)]
}

/// `ids` in ascending order, each once.
fn sorted_unique(ids: impl IntoIterator<Item = i64>) -> Vec<i64> {
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// `$n, $n+1, …` binds for `values`, pushed onto `query` separated by commas.
fn push_ids(query: &mut QueryBuilder<Db>, ids: impl IntoIterator<Item = i64>) {
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
}

/// What a ballot's poll says about it, read at the start of its batch.
#[derive(PartialEq, Eq)]
struct PollState {
    open: bool,
    max_choices: u8,
    protection: Protection,
    theme_id: i64,
}

/// How many times a batch is tried when its polls change under it (or it meets another
/// batch in a deadlock) before it fails as a whole, nothing of it kept.
const BATCH_ATTEMPTS: usize = 3;

/// PostgreSQL's SQLSTATE for a deadlock detected (`deadlock_detected`).
const DEADLOCK: &str = "40P01";

/// The polls `ids` as they are now, locked if `lock` says so.
async fn poll_states(tx: &mut Transaction<'_, Db>, ids: &[i64], lock: &str) -> StoreResult<HashMap<i64, PollState>> {
    let mut query = QueryBuilder::<Db>::new("select id, closed_at is null and (closes_at is null or closes_at > ");
    query.push_bind(unix_now());
    query.push("), max_choices, protection, theme_id from polls where id in (");
    push_ids(&mut query, ids.iter().copied());
    query.push(") order by id").push(lock);
    let rows: Vec<(i64, bool, i32, String, i64)> =
        query.build_query_as().persistent(NAMED).fetch_all(&mut **tx).await?;
    Ok(rows
        .into_iter()
        .map(|(id, open, max, protection, theme_id)| {
            let state = PollState {
                open,
                max_choices: u8::try_from(max).unwrap_or(1),
                protection: Protection::parse(&protection).unwrap_or_default(),
                theme_id,
            };
            (id, state)
        })
        .collect())
}

/// One batch of ballots inside `tx`: every ballot is checked against its poll (open, its
/// options, how many), the valid ones are inserted with one statement per table and one
/// counter update per table, and the touched polls are read back. A ballot that fails a
/// check is refused on its own; the others go on.
///
/// The polls are read without a lock; only the polls with accepted ballots are locked (`FOR
/// NO KEY UPDATE`, in id order: closes, changes and deletes wait, other batches may still
/// insert ballots naming them), just before their counters move, and compared with what
/// was read. Batches on one poll thus wait for each other only while they move its counters
/// and commit. `None`: a poll changed in between (closed, guarded otherwise); nothing of
/// the batch may be kept, and it is tried again.
async fn cast_in(tx: &mut Transaction<'_, Db>, ballots: &[Ballot]) -> StoreResult<Option<Vec<VoteOutcome>>> {
    let mut outcomes: Vec<Option<VoteOutcome>> = vec![None; ballots.len()];
    let poll_ids = sorted_unique(ballots.iter().map(|b| b.poll_id));
    let polls = poll_states(tx, &poll_ids, "").await?;

    // Which poll each named option belongs to, and its text (for "you already voted for").
    let option_ids = sorted_unique(ballots.iter().flat_map(|b| b.options.iter().copied()));
    let mut query = QueryBuilder::<Db>::new("select id, poll_id, text from options where id in (");
    push_ids(&mut query, option_ids.iter().copied());
    query.push(")");
    let rows: Vec<(i64, i64, String)> = query.build_query_as().persistent(NAMED).fetch_all(&mut **tx).await?;
    let options: HashMap<i64, (i64, String)> = rows.into_iter().map(|(id, poll, text)| (id, (poll, text))).collect();

    // Check each ballot; the first of two alike in one batch goes on, the second is its
    // duplicate.
    let mut candidates: Vec<(usize, Option<String>)> = Vec::new();
    let mut first_with_key: HashMap<(i64, String), usize> = HashMap::new();
    for (i, ballot) in ballots.iter().enumerate() {
        let poll_id = ballot.poll_id;
        let refusal = match polls.get(&poll_id) {
            None => Some(Refusal::UnknownPoll { poll_id }),
            Some(poll) if !poll.open => Some(Refusal::Closed),
            Some(poll) if ballot.options.len() > usize::from(poll.max_choices) => {
                Some(Refusal::TooManyChoices { max: poll.max_choices, picked: ballot.options.len() })
            }
            Some(_) => ballot
                .options
                .iter()
                .find(|o| options.get(o).is_none_or(|(poll, _)| *poll != poll_id))
                .map(|&option_id| Refusal::UnknownOption { poll_id, option_id }),
        };
        if let Some(refusal) = refusal {
            outcomes[i] = Some(VoteOutcome::Refused(refusal));
            continue;
        }
        let guard_key = match polls[&poll_id].protection {
            Protection::Cookie => Some(ballot.voter.as_str().to_owned()),
            Protection::Ip => Some(format!("ip:{}", ballot.address)),
            Protection::None => None,
        };
        if let Some(key) = &guard_key {
            if let Some(&first) = first_with_key.get(&(poll_id, key.clone())) {
                outcomes[i] = Some(VoteOutcome::Refused(duplicate_of(&ballots[first], ballot, &options)));
                continue;
            }
            first_with_key.insert((poll_id, key.clone()), i);
        }
        candidates.push((i, guard_key));
    }

    // One insert for every new ballot; a guard key already stored (an earlier batch) makes
    // its row a duplicate, which the database skips.
    let mut inserted: HashMap<(i64, String), Vec<i64>> = HashMap::new();
    // In (poll, guard key) order: two batches holding the same keys (one address, one
    // voter's double submit on two replicas) wait for each other's in one order, never in
    // a circle.
    candidates.sort_by(|(a, a_key), (b, b_key)| (ballots[*a].poll_id, a_key).cmp(&(ballots[*b].poll_id, b_key)));
    if !candidates.is_empty() {
        let mut query = QueryBuilder::<Db>::new("insert into ballots (poll_id, voter_key, guard_key) ");
        query.push_values(&candidates, |mut row, (i, guard_key)| {
            row.push_bind(ballots[*i].poll_id).push_bind(ballots[*i].voter.as_str()).push_bind(guard_key.clone());
        });
        query.push(" on conflict do nothing returning id, poll_id, voter_key, guard_key");
        let rows: Vec<(i64, i64, String, Option<String>)> =
            query.build_query_as().persistent(NAMED).fetch_all(&mut **tx).await?;
        for (id, poll_id, voter_key, guard_key) in rows {
            inserted.entry((poll_id, guard_key.unwrap_or(voter_key))).or_default().push(id);
        }
    }
    let mut accepted: Vec<(usize, i64)> = Vec::new();
    let mut stored_before: Vec<(usize, String)> = Vec::new();
    for (i, guard_key) in candidates {
        let ballot = &ballots[i];
        let key = guard_key.clone().unwrap_or_else(|| ballot.voter.as_str().to_owned());
        // Without a guard key one voter may have several ballots here: any of its ids will
        // do, as they all belong to that voter and poll.
        match inserted.get_mut(&(ballot.poll_id, key)).and_then(Vec::pop) {
            Some(ballot_id) => accepted.push((i, ballot_id)),
            None => stored_before.push((i, guard_key.unwrap_or_default())),
        }
    }
    for (i, refusal) in earlier_ballots(tx, ballots, &stored_before).await? {
        outcomes[i] = Some(VoteOutcome::Refused(refusal));
    }

    if !accepted.is_empty() {
        let votes: Vec<(i64, i64, i64)> = accepted
            .iter()
            .flat_map(|&(i, ballot_id)| ballots[i].options.iter().map(move |&o| (ballot_id, ballots[i].poll_id, o)))
            .collect();
        let mut query = QueryBuilder::<Db>::new("insert into votes (ballot_id, poll_id, option_id) ");
        query.push_values(&votes, |mut row, (ballot, poll, option)| {
            row.push_bind(*ballot).push_bind(*poll).push_bind(*option);
        });
        query.build().persistent(NAMED).execute(&mut **tx).await?;

        let mut per_option: BTreeMap<i64, i64> = BTreeMap::new();
        let mut per_poll: BTreeMap<i64, i64> = BTreeMap::new();
        let mut per_theme: BTreeMap<i64, i64> = BTreeMap::new();
        // Votes (not ballots) per poll: this minute's count on its timeline.
        let mut votes_per_poll: BTreeMap<i64, i64> = BTreeMap::new();
        for &(_, poll, option) in &votes {
            *per_option.entry(option).or_default() += 1;
            *per_theme.entry(polls[&poll].theme_id).or_default() += 1;
            *votes_per_poll.entry(poll).or_default() += 1;
        }
        for &(i, _) in &accepted {
            *per_poll.entry(ballots[i].poll_id).or_default() += 1;
        }
        // The polls voted on (`per_poll`'s keys, in id order, so concurrent batches never
        // deadlock on them) locked now, and still as they were read: open, and guarded the
        // same way. Otherwise a close or a change came in between: no vote may land after a
        // close.
        let voted: Vec<i64> = per_poll.keys().copied().collect();
        let now = poll_states(tx, &voted, <SqlStore as SqlBackend>::FOR_NO_KEY_UPDATE).await?;
        if voted.iter().any(|id| now.get(id) != polls.get(id)) {
            return Ok(None);
        }
        add_counts(tx, "options", "votes", &per_option).await?;
        add_counts(tx, "polls", "voters", &per_poll).await?;
        add_counts(tx, "themes", "vote_count", &per_theme).await?;
        let recent = count_minute(tx, minute_of(unix_now()), &votes_per_poll).await?;

        // Read back inside the transaction, under the polls' locks: a batch that commits
        // after this one waits for them, so its read includes these votes, and the highest
        // version published is always the complete tally.
        let mut query = QueryBuilder::<Db>::new(poll_select!("where p.id in ("));
        push_ids(&mut query, per_poll.keys().copied());
        query.push(") order by p.id, o.position");
        let read: Vec<PollRow> = query.build_query_as().persistent(NAMED).fetch_all(&mut **tx).await?;
        let read: HashMap<i64, Poll> = assemble(read)
            .into_iter()
            .map(|mut p| {
                p.timeline.minutes =
                    recent.iter().filter(|(poll, ..)| *poll == p.id).map(|&(_, m, v)| (m, v)).collect();
                (p.id, p)
            })
            .collect();
        for (i, _) in accepted {
            outcomes[i] = Some(VoteOutcome::Accepted { poll: read.get(&ballots[i].poll_id).cloned() });
        }
    }
    Ok(Some(outcomes.into_iter().map(|o| o.unwrap_or(VoteOutcome::Refused(Refusal::Closed))).collect()))
}

/// The votes of a batch added to each poll's count for `minute`, in one statement that
/// answers with the counts it leaves, as `(poll, minute, votes)`, for the live timeline.
async fn count_minute(
    tx: &mut Transaction<'_, Db>,
    minute: i64,
    per_poll: &BTreeMap<i64, i64>,
) -> StoreResult<Vec<(i64, i64, i64)>> {
    let mut query = QueryBuilder::<Db>::new("insert into poll_minutes (poll_id, minute, votes) ");
    query.push_values(per_poll, |mut row, (poll, votes)| {
        row.push_bind(*poll).push_bind(minute).push_bind(*votes);
    });
    query.push(" on conflict (poll_id, minute) do update set votes = poll_minutes.votes + excluded.votes");
    query.push(" returning poll_id, minute, votes");
    Ok(query.build_query_as().persistent(NAMED).fetch_all(&mut **tx).await?)
}

/// `table.column += n` for each `(id, n)`, in one statement, in id order.
async fn add_counts(
    tx: &mut Transaction<'_, Db>,
    table: &'static str,
    column: &'static str,
    deltas: &BTreeMap<i64, i64>,
) -> StoreResult<()> {
    let mut query = QueryBuilder::<Db>::new(format!("update {table} set {column} = {column} + case id"));
    for (&id, &delta) in deltas {
        query.push(" when ").push_bind(id).push(" then ").push_bind(delta);
    }
    query.push(" else 0 end where id in (");
    push_ids(&mut query, deltas.keys().copied());
    query.push(")");
    query.build().persistent(NAMED).execute(&mut **tx).await?;
    Ok(())
}

/// The refusal for `later`, the same voter's (or address's) second ballot in one batch.
fn duplicate_of(first: &Ballot, later: &Ballot, options: &HashMap<i64, (i64, String)>) -> Refusal {
    if first.voter != later.voter {
        return Refusal::SameAddress;
    }
    let choices = first.options.iter().filter_map(|o| options.get(o).map(|(_, text)| (*o, text.clone()))).collect();
    Refusal::AlreadyVoted { choices }
}

/// How far `place_in_theme` counts from either end of a theme before it counts all.
const PLACE_CAP: i64 = 1000;

/// The options each of `ballots` (ids) names, as `(ballot_id, option_id)` in that order.
///
/// Read through the votes' `(ballot_id, option_id)` index whatever PostgreSQL's statistics
/// say: the order follows the index and the limit (a ballot names at most `MAX_OPTIONS`)
/// makes a scan of the whole table cost more. A plain join to `ballots`, on a table that
/// grew fast before its first `ANALYZE`, was hashed over the whole of `votes` instead (a
/// voter's own choices use a lateral lookup per ballot: `SqlBackend::VOTER_CHOICES`).
async fn options_of_ballots<'e>(
    executor: impl sqlx::Executor<'e, Database = Db>,
    ballots: &[i64],
) -> StoreResult<Vec<(i64, i64)>> {
    if ballots.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::<Db>::new("select ballot_id, option_id from votes where ballot_id in (");
    push_ids(&mut query, ballots.iter().copied());
    // A number this code computed, not input: written into the statement so the planner
    // sees it.
    query.push(format!(") order by ballot_id, option_id limit {}", ballots.len() * MAX_OPTIONS));
    Ok(query.build_query_as().persistent(NAMED).fetch_all(executor).await?)
}

/// Why each of `duplicates` (ballot index, guard key) is refused: the earlier ballot with
/// its guard key and the options it named (by position).
async fn earlier_ballots(
    tx: &mut Transaction<'_, Db>,
    ballots: &[Ballot],
    duplicates: &[(usize, String)],
) -> StoreResult<Vec<(usize, Refusal)>> {
    if duplicates.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::<Db>::new("select id, poll_id, guard_key, voter_key from ballots where ");
    let mut any = query.separated(" or ");
    for (i, key) in duplicates {
        any.push("(poll_id = ").push_bind_unseparated(ballots[*i].poll_id);
        any.push_unseparated(" and guard_key = ").push_bind_unseparated(key.clone()).push_unseparated(")");
    }
    let rows: Vec<(i64, i64, String, String)> = query.build_query_as().persistent(NAMED).fetch_all(&mut **tx).await?;
    let earlier: HashMap<i64, (i64, String, String)> =
        rows.into_iter().map(|(id, poll, key, voter)| (id, (poll, key, voter))).collect();
    let ids: Vec<i64> = earlier.keys().copied().collect();
    let named = options_of_ballots(&mut **tx, &ids).await?;
    let mut texts: HashMap<i64, (i32, String)> = HashMap::new();
    if !named.is_empty() {
        let mut query = QueryBuilder::<Db>::new("select id, position, text from options where id in (");
        push_ids(&mut query, named.iter().map(|(_, option)| *option));
        query.push(")");
        let rows: Vec<(i64, i32, String)> = query.build_query_as().persistent(NAMED).fetch_all(&mut **tx).await?;
        texts = rows.into_iter().map(|(id, position, text)| (id, (position, text))).collect();
    }
    // (poll, guard key, voter key, option, text), by the option's position.
    let mut rows: Vec<(i64, String, String, i64, String)> = Vec::new();
    for (ballot, option) in named {
        if let (Some((poll, key, voter)), Some((_, text))) = (earlier.get(&ballot), texts.get(&option)) {
            rows.push((*poll, key.clone(), voter.clone(), option, text.clone()));
        }
    }
    rows.sort_by_key(|row| texts.get(&row.3).map_or(0, |(position, _)| *position));
    Ok(duplicates
        .iter()
        .map(|(i, key)| {
            let ballot = &ballots[*i];
            let earlier: Vec<&(i64, String, String, i64, String)> =
                rows.iter().filter(|r| r.0 == ballot.poll_id && &r.1 == key).collect();
            // Another browser at the same address is not told what that one chose.
            let refusal = if earlier.first().is_some_and(|r| r.2 != ballot.voter.as_str()) {
                Refusal::SameAddress
            } else {
                Refusal::AlreadyVoted { choices: earlier.iter().map(|r| (r.3, r.4.clone())).collect() }
            };
            (*i, refusal)
        })
        .collect())
}

#[async_trait]
impl Store for SqlStore {
    async fn migrate(&self) -> StoreResult<()> {
        // Through a transaction pooler the migrator's session lock would outlive it on some
        // server connection: `votestream migrate` runs against the database itself.
        if !SqlStore::TRANSACTION_POOLED {
            self.migrator().run(self.writer()).await?;
        }
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        // The simple protocol: nothing prepared, so nothing to keep a server connection for.
        sqlx::raw_sql("select 1").execute(self.reader()).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn seed(&self, themes: &[ThemeContent]) -> StoreResult<SeedReport> {
        let mut tx = self.writer().begin().await?;
        Self::lock_seeding(&mut tx).await?;
        let mut report = SeedReport::default();
        for (position, seed) in (0..).zip(themes) {
            let (theme_id, added) = seed_theme(&mut tx, position, &seed.theme).await?;
            report.themes_added += usize::from(added);
            for poll in &seed.polls {
                let exists: Option<(i64,)> =
                    query_as("select id from polls where theme_id = $1 and question = $2 limit 1")
                        .bind(theme_id)
                        .bind(poll.question.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                if exists.is_none() {
                    insert_poll(&mut tx, theme_id, poll, None).await?;
                    report.polls_added += 1;
                }
            }
        }
        commit(tx).await?;
        Ok(report)
    }

    async fn themes(&self) -> StoreResult<Vec<Theme>> {
        let rows: Vec<ThemeRow> = on_pages(self, |pool| {
            read_rows(
                pool,
                "select id, key, slug, name, icon, color, description from themes order by position, id",
                &[],
            )
        })
        .await?;
        Ok(rows.into_iter().map(theme).collect())
    }

    async fn theme_stats(&self) -> StoreResult<Vec<ThemeStats>> {
        let rows: Vec<(i64, String, String, String, String, String, String, i64, i64)> = on_pages(self, |pool| {
            read_rows(
                pool,
                // Counters kept by every write: no scan of polls or votes.
                "select id, key, slug, name, icon, color, description,
                        cast(poll_count as bigint), cast(vote_count as bigint)
                   from themes order by position, id",
                &[],
            )
        })
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, key, slug, name, icon, color, description, poll_count, vote_count)| ThemeStats {
                theme: theme((id, key, slug, name, icon, color, description)),
                poll_count,
                vote_count,
            })
            .collect())
    }

    async fn theme(&self, slug_or_key: &str) -> StoreResult<Option<Theme>> {
        let row: Option<ThemeRow> = on_pages(self, |pool| async move {
            let mut session = Session::on(pool).await?;
            let row = query_as(
                "select id, key, slug, name, icon, color, description from themes
                  where slug = $1 or key = $1 order by slug = $1 desc limit 1",
            )
            .bind(slug_or_key)
            .fetch_optional(session.conn())
            .await?;
            session.done().await?;
            Ok(row)
        })
        .await?;
        Ok(row.map(theme))
    }

    async fn theme_by_id(&self, id: i64) -> StoreResult<Option<Theme>> {
        let binds = [id];
        let row: Option<ThemeRow> = on_pages(self, |pool| {
            read_rows(pool, "select id, key, slug, name, icon, color, description from themes where id = $1", &binds)
        })
        .await?
        .pop();
        Ok(row.map(theme))
    }

    async fn polls_of_theme(&self, theme_id: i64, page: Page) -> StoreResult<Vec<Poll>> {
        let [after, size] = page_binds(page);
        let binds = [theme_id, after, size];
        on_pages(self, |pool| {
            load_polls(
                pool,
                poll_select!(
                    "where p.id in (select id from polls where theme_id = $1 and id > $2 order by id limit $3)
                     order by p.id, o.position"
                ),
                &binds,
            )
        })
        .await
    }

    async fn polls_of_theme_up_to(&self, theme_id: i64, poll_id: i64) -> StoreResult<i64> {
        let binds = [theme_id, poll_id];
        let counted: Vec<(i64,)> = on_pages(self, |pool| read_rows(pool, COUNT_UP_TO, &binds)).await?;
        Ok(counted.first().map_or(0, |(n,)| *n))
    }

    async fn place_in_theme(&self, theme_id: i64, poll_id: i64) -> StoreResult<Place> {
        on_pages(self, |pool| place_in_theme(pool, theme_id, poll_id)).await
    }

    async fn polls(&self, page: Page, filter: PollFilter) -> StoreResult<Vec<Poll>> {
        let [after, size] = page_binds(page);
        // 0 stands for "any": ids are positive; 1 open, 2 closed.
        let open = match filter.open {
            None => 0,
            Some(true) => 1,
            Some(false) => 2,
        };
        let binds = [after, size, filter.theme_id.unwrap_or(0), open];
        on_pages(self, |pool| {
            load_polls(
                pool,
                poll_select!(
                    "where p.id in (select id from polls
                                     where id > $1 and ($3 = 0 or theme_id = $3)
                                       and ($4 = 0 or ($4 = 1 and closed_at is null) or ($4 = 2 and closed_at is not null))
                                     order by id limit $2)
                     order by p.id, o.position"
                ),
                &binds,
            )
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn poll(&self, id: i64) -> StoreResult<Option<Poll>> {
        let found = on_pages(self, |pool| poll_with_timeline(pool, id)).await?;
        match found {
            // A standby may not have the poll yet (created a moment ago): the primary says.
            None if !self.standby_states().is_empty() => self.poll_as_written(id).await,
            found => Ok(found),
        }
    }

    async fn poll_as_written(&self, id: i64) -> StoreResult<Option<Poll>> {
        poll_with_timeline(self.reader(), id).await
    }

    async fn timeline(&self, poll_id: i64) -> StoreResult<Timeline> {
        let binds = [poll_id];
        on_pages(self, |pool| {
            read_rows(pool, "select minute, votes from poll_minutes where poll_id = $1 order by minute", &binds)
        })
        .await
    }

    async fn join_key(&self) -> StoreResult<i64> {
        let rows: Vec<(i64,)> =
            read_rows(self.reader(), "select value from site_keys where name = 'join_codes'", &[]).await?;
        rows.first().map(|(key,)| *key).ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }

    async fn choices(&self, poll_id: i64, voter: &VoterId) -> StoreResult<Vec<i64>> {
        let mut session = Session::on(self.reader()).await?;
        let options: Vec<(i64,)> =
            query_as(SqlStore::VOTER_CHOICES).bind(poll_id).bind(voter.as_str()).fetch_all(session.conn()).await?;
        session.done().await?;
        Ok(options.into_iter().map(|(option,)| option).collect())
    }
    #[tracing::instrument(level = "debug", skip_all, fields(theme_id = poll.theme_id))]
    async fn create_poll(&self, poll: &NewPoll, manage_digest: &str) -> StoreResult<i64> {
        let mut tx = self.writer().begin().await?;
        let id = insert_poll(&mut tx, poll.theme_id, &poll.content, Some((poll, manage_digest))).await?;
        commit(tx).await?;
        Ok(id)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(ballots = ballots.len()))]
    async fn cast_ballots(&self, ballots: &[Ballot]) -> StoreResult<Vec<VoteOutcome>> {
        if ballots.is_empty() {
            return Ok(Vec::new());
        }
        let mut attempt = 1;
        loop {
            let mut tx = self.writer().begin().await?;
            let cast = cast_in(&mut tx, ballots).await;
            let again = match &cast {
                Ok(Some(_)) => false,
                // A poll changed, or was deleted under a ballot naming it (a foreign-key
                // violation), or this batch and another each waited for the other.
                Ok(None) => true,
                Err(StoreError::Database(sqlx::Error::Database(error))) => {
                    error.is_foreign_key_violation() || error.code().as_deref() == Some(DEADLOCK)
                }
                Err(_) => false,
            };
            if again && attempt < BATCH_ATTEMPTS {
                tx.rollback().await?;
                attempt += 1;
                continue;
            }
            let outcomes = cast?.ok_or(StoreError::KeptChanging)?;
            commit(tx).await?;
            return Ok(outcomes);
        }
    }

    async fn owned_poll(&self, poll_id: i64, manage_digest: &str) -> StoreResult<Option<Poll>> {
        let mut session = Session::on(self.reader()).await?;
        let owned: Option<(i64,)> = query_as("select id from polls where id = $1 and manage_hash = $2")
            .bind(poll_id)
            .bind(manage_digest)
            .fetch_optional(session.conn())
            .await?;
        session.done().await?;
        match owned {
            Some(_) => self.poll_as_written(poll_id).await,
            None => Ok(None),
        }
    }

    #[tracing::instrument(level = "debug", skip(self, manage_digest))]
    async fn change_poll(&self, poll_id: i64, manage_digest: &str, change: OwnerChange) -> StoreResult<Option<Poll>> {
        let owned = |sql: &'static str| query(sql).bind(poll_id).bind(manage_digest);
        let minute = minute_of(unix_now());
        let query = match change {
            OwnerChange::Close => owned(
                "update polls set closed_at = coalesce(closed_at, current_timestamp),
                        closed_minute = coalesce(closed_minute, $3), revision = revision + 1
                  where id = $1 and manage_hash = $2",
            )
            .bind(minute),
            // The results are held only when they would be shown at this close.
            OwnerChange::CloseForReveal => owned(
                "update polls set closed_at = coalesce(closed_at, current_timestamp),
                        closed_minute = coalesce(closed_minute, $3),
                        held = case when closed_at is null and results_shown = 'after_close' then true else held end,
                        revision = revision + 1
                  where id = $1 and manage_hash = $2",
            )
            .bind(minute),
            OwnerChange::Reveal => {
                owned("update polls set held = false, revision = revision + 1 where id = $1 and manage_hash = $2")
            }
            OwnerChange::Present(stage) => owned(
                "update polls set stage_poll_id = case when $3 = id then null else $3 end, revision = revision + 1
                  where id = $1 and manage_hash = $2",
            )
            .bind(stage),
            OwnerChange::Reopen => owned(
                "update polls set closed_at = null, closed_minute = null, held = false, revision = revision + 1,
                        closes_at = case when closes_at <= $3 then null else closes_at end
                  where id = $1 and manage_hash = $2",
            )
            .bind(unix_now()),
            OwnerChange::Configure(settings) => owned(
                "update polls set results_shown = $3, protection = $4, closes_at = $5, revision = revision + 1,
                        held = case when $3 = 'after_close' then held else false end
                  where id = $1 and manage_hash = $2",
            )
            .bind(settings.results.as_str())
            .bind(settings.protection.as_str())
            .bind(settings.closes_at),
        };
        let mut session = Session::on(self.writer()).await?;
        let changed = query.execute(session.conn()).await?.rows_affected();
        session.done().await?;
        if changed == 0 {
            return Ok(None);
        }
        self.poll_as_written(poll_id).await
    }

    async fn delete_poll(&self, poll_id: i64, manage_digest: &str) -> StoreResult<bool> {
        let mut tx = self.writer().begin().await?;
        // The poll locked first, with what it adds to its theme's counters: of two deletes at
        // once, the second waits here, then finds nothing and changes nothing.
        let mut lookup = QueryBuilder::<Db>::new(
            "select theme_id, cast((select coalesce(sum(votes), 0) from options where poll_id = p.id) as bigint)
               from polls p where id = ",
        );
        lookup.push_bind(poll_id).push(" and manage_hash = ").push_bind(manage_digest);
        lookup.push(<SqlStore as SqlBackend>::FOR_UPDATE);
        let found: Option<(i64, i64)> = lookup.build_query_as().persistent(NAMED).fetch_optional(&mut *tx).await?;
        let Some((theme_id, votes)) = found else { return Ok(false) };
        let done = query("delete from polls where id = $1").bind(poll_id).execute(&mut *tx).await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        query("update themes set poll_count = poll_count - 1, vote_count = vote_count - $2 where id = $1")
            .bind(theme_id)
            .bind(votes)
            .execute(&mut *tx)
            .await?;
        commit(tx).await?;
        Ok(true)
    }

    async fn close_due(&self) -> StoreResult<Vec<i64>> {
        let mut session = Session::on(self.writer()).await?;
        let rows: Vec<(i64,)> = query_as(
            "update polls set closed_at = current_timestamp, closed_minute = $2, revision = revision + 1
              where closed_at is null and closes_at is not null and closes_at <= $1
              returning id",
        )
        .bind(unix_now())
        .bind(minute_of(unix_now()))
        .fetch_all(session.conn())
        .await?;
        session.done().await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    fn standbys(&self) -> Vec<StandbyState> {
        self.standby_states()
    }

    fn pool(&self) -> Option<PoolStats> {
        let (reader, writer) = (self.reader(), self.writer());
        let mut pools = vec![reader];
        // PostgreSQL reads and writes through one pool; SQLite has two.
        if !std::ptr::eq(reader, writer) {
            pools.push(writer);
        }
        let idle: usize = pools.iter().map(|p| p.num_idle()).sum();
        let size: u32 = pools.iter().map(|p| p.size()).sum();
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        Some(PoolStats { in_use: size.saturating_sub(idle), idle })
    }

    async fn totals(&self) -> StoreResult<Totals> {
        let rows: Vec<(i64, i64, i64, i64)> = on_pages(self, |pool| {
            read_rows(
                pool,
                "select (select count(*) from themes), (select count(*) from polls),
                        (select count(*) from options), (select count(*) from votes)",
                &[],
            )
        })
        .await?;
        let (themes, polls, options, votes) = rows.first().copied().unwrap_or_default();
        Ok(Totals { themes, polls, options, votes })
    }
}

#[cfg(test)]
mod tests {
    use super::with_integers;

    #[test]
    fn only_the_integers_are_written_into_the_text_each_where_its_number_says() {
        let sql = "select $1, $10, $2 from t where a = $1 and b > $2 limit $3";
        let binds = [7, -2, 300, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(with_integers(sql, &binds), "select 7, 10, (-2) from t where a = 7 and b > (-2) limit 300");
        assert_eq!(with_integers("select 1 - $1", &[-5]), "select 1 - (-5)", "never a `--` comment");
        assert_eq!(with_integers("select $1, $2, $", &[1]), "select 1, $2, $", "what is not a bind stays");
        assert_eq!(with_integers("select 1", &[]), "select 1");
    }
}
