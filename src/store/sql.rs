//! The one SQL implementation of [`Store`], compiled once per backend.
//!
//! The queries are written in the SQL that PostgreSQL and SQLite share (`$n` parameters,
//! `on conflict`, `returning`, `current_timestamp`, `cast(… as bigint)`), so both backends
//! run the same statements. sqlx's per-database types make one generic impl impractical,
//! so each backend module includes this file as its own `sql` module, after naming its
//! store `SqlStore`; what differs between backends is the [`SqlBackend`] trait.

use async_trait::async_trait;
use sqlx::Transaction;

use super::SqlStore;
use crate::domain::{
    Ballot, NewPoll, OwnerChange, Page, Poll, PollContent, PollOption, Protection, Refusal, ResultsShown, Settings,
    Theme, ThemeContent, ThemeStats, Totals, VoteOutcome, VoterId, unix_now,
};
use crate::store::{PoolStats, SeedReport, SqlBackend, Store, StoreResult};

type Db = <SqlStore as SqlBackend>::Db;

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
    let (poll_id,): (i64,) = sqlx::query_as(
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
    for (position, option) in (0_i32..).zip(&poll.options) {
        sqlx::query("insert into options (poll_id, position, text) values ($1, $2, $3)")
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
    let inserted: Option<(i64,)> = sqlx::query_as(
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
    let (id,): (i64,) =
        sqlx::query_as("select id from themes where slug = $1 or key = $2 order by slug = $1 desc limit 1")
            .bind(&seed.slug)
            .bind(&seed.key)
            .fetch_one(&mut **tx)
            .await?;
    Ok((id, false))
}

/// Polls with their options from one joined query taking `binds` in order.
async fn load_polls(store: &SqlStore, query: &'static str, binds: &[i64]) -> StoreResult<Vec<Poll>> {
    let mut rows = sqlx::query_as(query);
    for bind in binds {
        rows = rows.bind(*bind);
    }
    Ok(assemble(rows.fetch_all(store.reader()).await?))
}

/// A page's binds: the id to start after (0: from the start; ids are positive) and the size.
fn page_binds(page: Page) -> [i64; 2] {
    [page.after.unwrap_or(0), i64::from(page.size)]
}

#[async_trait]
impl Store for SqlStore {
    async fn migrate(&self) -> StoreResult<()> {
        self.migrator().run(self.writer()).await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("select 1").execute(self.reader()).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn seed(&self, themes: &[ThemeContent]) -> StoreResult<SeedReport> {
        let mut tx = self.writer().begin().await?;
        Self::lock_seeding(&mut tx).await?;
        let mut report = SeedReport::default();
        for (position, seed) in (0..).zip(themes) {
            let (theme_id, added) = seed_theme(&mut tx, position, &seed.theme).await?;
            report.themes_added += usize::from(added);
            for poll in &seed.polls {
                let exists: Option<(i64,)> =
                    sqlx::query_as("select id from polls where theme_id = $1 and question = $2 limit 1")
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
        tx.commit().await?;
        Ok(report)
    }

    async fn themes(&self) -> StoreResult<Vec<Theme>> {
        let rows: Vec<ThemeRow> =
            sqlx::query_as("select id, key, slug, name, icon, color, description from themes order by position, id")
                .fetch_all(self.reader())
                .await?;
        Ok(rows.into_iter().map(theme).collect())
    }

    async fn theme_stats(&self) -> StoreResult<Vec<ThemeStats>> {
        let rows: Vec<(i64, String, String, String, String, String, String, i64, i64)> = sqlx::query_as(
            "select t.id, t.key, t.slug, t.name, t.icon, t.color, t.description,
                    (select count(*) from polls p where p.theme_id = t.id),
                    (select cast(coalesce(sum(o.votes), 0) as bigint)
                       from polls p join options o on o.poll_id = p.id
                      where p.theme_id = t.id)
               from themes t
              order by t.position, t.id",
        )
        .fetch_all(self.reader())
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
        let row: Option<ThemeRow> = sqlx::query_as(
            "select id, key, slug, name, icon, color, description from themes
              where slug = $1 or key = $1 order by slug = $1 desc limit 1",
        )
        .bind(slug_or_key)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(theme))
    }

    async fn theme_by_id(&self, id: i64) -> StoreResult<Option<Theme>> {
        let row: Option<ThemeRow> =
            sqlx::query_as("select id, key, slug, name, icon, color, description from themes where id = $1")
                .bind(id)
                .fetch_optional(self.reader())
                .await?;
        Ok(row.map(theme))
    }

    async fn polls_of_theme(&self, theme_id: i64, page: Page) -> StoreResult<Vec<Poll>> {
        let [after, size] = page_binds(page);
        load_polls(
            self,
            poll_select!(
                "where p.id in (select id from polls where theme_id = $1 and id > $2 order by id limit $3)
                 order by p.id, o.position"
            ),
            &[theme_id, after, size],
        )
        .await
    }

    async fn polls_of_theme_up_to(&self, theme_id: i64, poll_id: i64) -> StoreResult<i64> {
        let (count,): (i64,) = sqlx::query_as("select count(*) from polls where theme_id = $1 and id <= $2")
            .bind(theme_id)
            .bind(poll_id)
            .fetch_one(self.reader())
            .await?;
        Ok(count)
    }

    async fn poll_ids_of_theme(&self, theme_id: i64) -> StoreResult<Vec<i64>> {
        let rows: Vec<(i64,)> = sqlx::query_as("select id from polls where theme_id = $1 order by id")
            .bind(theme_id)
            .fetch_all(self.reader())
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn polls(&self, page: Page) -> StoreResult<Vec<Poll>> {
        load_polls(
            self,
            poll_select!(
                "where p.id in (select id from polls where id > $1 order by id limit $2) order by p.id, o.position"
            ),
            &page_binds(page),
        )
        .await
    }

    #[tracing::instrument(skip(self))]
    async fn poll(&self, id: i64) -> StoreResult<Option<Poll>> {
        let mut polls = load_polls(self, poll_select!("where p.id = $1 order by o.position"), &[id]).await?;
        Ok(polls.pop())
    }

    async fn choices(&self, poll_id: i64, voter: &VoterId) -> StoreResult<Vec<i64>> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "select distinct v.option_id from ballots b join votes v on v.ballot_id = b.id
              where b.poll_id = $1 and b.voter_key = $2 order by v.option_id",
        )
        .bind(poll_id)
        .bind(voter.as_str())
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    #[tracing::instrument(skip_all, fields(theme_id = poll.theme_id))]
    async fn create_poll(&self, poll: &NewPoll, manage_digest: &str) -> StoreResult<i64> {
        let mut tx = self.writer().begin().await?;
        let id = insert_poll(&mut tx, poll.theme_id, &poll.content, Some((poll, manage_digest))).await?;
        tx.commit().await?;
        Ok(id)
    }

    #[tracing::instrument(skip_all, fields(poll_id = ballot.poll_id))]
    async fn cast_vote(&self, ballot: &Ballot) -> StoreResult<VoteOutcome> {
        let refused = |refusal| Ok(VoteOutcome::Refused(refusal));
        let poll_id = ballot.poll_id;
        let mut tx = self.writer().begin().await?;
        // Counting the voter first takes the poll's row lock and checks it is open in one
        // step: a close that commits meanwhile is seen, so no vote lands after it.
        let open: Option<(i32, String)> = sqlx::query_as(
            "update polls set voters = voters + 1
              where id = $1 and closed_at is null and (closes_at is null or closes_at > $2)
              returning max_choices, protection",
        )
        .bind(poll_id)
        .bind(unix_now())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((max_choices, protection)) = open else {
            let exists: Option<(i64,)> =
                sqlx::query_as("select id from polls where id = $1").bind(poll_id).fetch_optional(&mut *tx).await?;
            return refused(if exists.is_some() { Refusal::Closed } else { Refusal::UnknownPoll { poll_id } });
        };
        let max = u8::try_from(max_choices).unwrap_or(1);
        if ballot.options.len() > usize::from(max) {
            return refused(Refusal::TooManyChoices { max, picked: ballot.options.len() });
        }
        for &option_id in &ballot.options {
            let option: Option<(i64,)> = sqlx::query_as("select id from options where poll_id = $1 and id = $2")
                .bind(poll_id)
                .bind(option_id)
                .fetch_optional(&mut *tx)
                .await?;
            if option.is_none() {
                return refused(Refusal::UnknownOption { poll_id, option_id });
            }
        }
        let guard_key = match Protection::parse(&protection).unwrap_or_default() {
            Protection::Cookie => Some(ballot.voter.as_str().to_owned()),
            Protection::Ip => Some(format!("ip:{}", ballot.address)),
            Protection::None => None,
        };
        // The unique key on (poll, guard key) decides races between two ballots of one voter.
        let inserted: Option<(i64,)> = sqlx::query_as(
            "insert into ballots (poll_id, voter_key, guard_key) values ($1, $2, $3)
             on conflict do nothing returning id",
        )
        .bind(poll_id)
        .bind(ballot.voter.as_str())
        .bind(guard_key.as_deref())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((ballot_id,)) = inserted else {
            let earlier: Vec<(i64, String, String)> = sqlx::query_as(
                "select v.option_id, o.text, b.voter_key from ballots b
                   join votes v on v.ballot_id = b.id join options o on o.id = v.option_id
                  where b.poll_id = $1 and b.guard_key = $2 order by o.position",
            )
            .bind(poll_id)
            .bind(guard_key.as_deref())
            .fetch_all(&mut *tx)
            .await?;
            // Another browser at the same address is not told what that one chose.
            if earlier.first().is_some_and(|(_, _, voter)| voter != ballot.voter.as_str()) {
                return refused(Refusal::SameAddress);
            }
            let choices = earlier.into_iter().map(|(id, text, _)| (id, text)).collect();
            return refused(Refusal::AlreadyVoted { choices });
        };
        for &option_id in &ballot.options {
            sqlx::query("insert into votes (ballot_id, poll_id, option_id) values ($1, $2, $3)")
                .bind(ballot_id)
                .bind(poll_id)
                .bind(option_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("update options set votes = votes + 1 where id = $1").bind(option_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        // Read after the commit: whichever vote commits last then sees every vote, so the
        // highest version published is the complete tally. The vote is committed: a
        // failing read must not turn it into an error, so the poll is simply absent.
        let poll = match self.poll(poll_id).await {
            Ok(poll) => poll,
            Err(error) => {
                tracing::warn!(%error, poll_id, "vote committed, tally read failed");
                None
            }
        };
        Ok(VoteOutcome::Accepted { poll })
    }

    async fn owned_poll(&self, poll_id: i64, manage_digest: &str) -> StoreResult<Option<Poll>> {
        let owned: Option<(i64,)> = sqlx::query_as("select id from polls where id = $1 and manage_hash = $2")
            .bind(poll_id)
            .bind(manage_digest)
            .fetch_optional(self.reader())
            .await?;
        match owned {
            Some(_) => self.poll(poll_id).await,
            None => Ok(None),
        }
    }

    #[tracing::instrument(skip(self, manage_digest))]
    async fn change_poll(&self, poll_id: i64, manage_digest: &str, change: OwnerChange) -> StoreResult<Option<Poll>> {
        let owned = |sql: &'static str| sqlx::query::<Db>(sql).bind(poll_id).bind(manage_digest);
        let query = match change {
            OwnerChange::Close => owned(
                "update polls set closed_at = coalesce(closed_at, current_timestamp), revision = revision + 1
                  where id = $1 and manage_hash = $2",
            ),
            OwnerChange::Reopen => owned(
                "update polls set closed_at = null, revision = revision + 1,
                        closes_at = case when closes_at <= $3 then null else closes_at end
                  where id = $1 and manage_hash = $2",
            )
            .bind(unix_now()),
            OwnerChange::Configure(settings) => owned(
                "update polls set results_shown = $3, protection = $4, closes_at = $5, revision = revision + 1
                  where id = $1 and manage_hash = $2",
            )
            .bind(settings.results.as_str())
            .bind(settings.protection.as_str())
            .bind(settings.closes_at),
        };
        if query.execute(self.writer()).await?.rows_affected() == 0 {
            return Ok(None);
        }
        self.poll(poll_id).await
    }

    async fn delete_poll(&self, poll_id: i64, manage_digest: &str) -> StoreResult<bool> {
        let done = sqlx::query("delete from polls where id = $1 and manage_hash = $2")
            .bind(poll_id)
            .bind(manage_digest)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn close_due(&self) -> StoreResult<Vec<i64>> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "update polls set closed_at = current_timestamp, revision = revision + 1
              where closed_at is null and closes_at is not null and closes_at <= $1
              returning id",
        )
        .bind(unix_now())
        .fetch_all(self.writer())
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
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
        let (themes, polls, options, votes): (i64, i64, i64, i64) = sqlx::query_as(
            "select (select count(*) from themes), (select count(*) from polls),
                    (select count(*) from options), (select count(*) from votes)",
        )
        .fetch_one(self.reader())
        .await?;
        Ok(Totals { themes, polls, options, votes })
    }
}
