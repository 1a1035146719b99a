//! The one SQL implementation of [`Store`], compiled once per backend.
//!
//! The queries are written in the SQL that PostgreSQL and SQLite share (`$n` parameters,
//! `on conflict`, `returning`, `current_timestamp`, `cast(… as bigint)`), so both backends
//! run the same statements. sqlx's per-database types make one generic impl impractical,
//! so each backend module includes this file as its own `sql` module, after naming its
//! store `SqlStore`; what differs between backends is the [`SqlBackend`] trait.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::Transaction;

use super::SqlStore;
use crate::domain::{
    NewPoll, Page, Poll, PollContent, PollOption, Refusal, Theme, ThemeContent, ThemeStats, Totals, VoteOutcome,
    VoterId,
};
use crate::store::{SeedReport, SqlBackend, Store, StoreResult};

type Db = <SqlStore as SqlBackend>::Db;

/// A theme row: id, key, slug, name, icon, color, description.
type ThemeRow = (i64, String, String, String, String, String, String);

fn theme((id, key, slug, name, icon, color, description): ThemeRow) -> Theme {
    Theme { id, key, slug, name, icon, color, description }
}

/// Polls and their options, in order, assembled from two row sets.
fn assemble(heads: Vec<(i64, i64, String, bool)>, options: Vec<(i64, i64, String, i64)>) -> Vec<Poll> {
    let mut by_poll: HashMap<i64, Vec<PollOption>> = HashMap::new();
    for (poll_id, id, text, votes) in options {
        by_poll.entry(poll_id).or_default().push(PollOption { id, text, votes });
    }
    heads
        .into_iter()
        .map(|(id, theme_id, question, closed)| Poll {
            id,
            theme_id,
            question,
            closed,
            options: by_poll.remove(&id).unwrap_or_default(),
        })
        .collect()
}

async fn insert_poll(tx: &mut Transaction<'_, Db>, theme_id: i64, poll: &PollContent) -> StoreResult<i64> {
    let (poll_id,): (i64,) = sqlx::query_as("insert into polls (theme_id, question) values ($1, $2) returning id")
        .bind(theme_id)
        .bind(poll.question.as_str())
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

/// Polls (`heads`: id, theme, question, closed) with their options (`options`: poll, id,
/// text, votes), both queries taking the same `binds` in order.
async fn load_polls(
    store: &SqlStore,
    heads: &'static str,
    options: &'static str,
    binds: &[i64],
) -> StoreResult<Vec<Poll>> {
    let mut heads = sqlx::query_as(heads);
    let mut options = sqlx::query_as(options);
    for bind in binds {
        heads = heads.bind(*bind);
        options = options.bind(*bind);
    }
    let heads: Vec<(i64, i64, String, bool)> = heads.fetch_all(store.reader()).await?;
    if heads.is_empty() {
        return Ok(Vec::new());
    }
    let options: Vec<(i64, i64, String, i64)> = options.fetch_all(store.reader()).await?;
    Ok(assemble(heads, options))
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
                    insert_poll(&mut tx, theme_id, poll).await?;
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
            "select id, theme_id, question, closed_at is not null from polls
              where theme_id = $1 and id > $2 order by id limit $3",
            "select o.poll_id, o.id, o.text, o.votes from options o
              where o.poll_id in (select id from polls where theme_id = $1 and id > $2 order by id limit $3)
              order by o.poll_id, o.position",
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
            "select id, theme_id, question, closed_at is not null from polls where id > $1 order by id limit $2",
            "select poll_id, id, text, votes from options
              where poll_id in (select id from polls where id > $1 order by id limit $2)
              order by poll_id, position",
            &page_binds(page),
        )
        .await
    }

    #[tracing::instrument(skip(self))]
    async fn poll(&self, id: i64) -> StoreResult<Option<Poll>> {
        let mut polls = load_polls(
            self,
            "select id, theme_id, question, closed_at is not null from polls where id = $1",
            "select poll_id, id, text, votes from options where poll_id = $1 order by position",
            &[id],
        )
        .await?;
        Ok(polls.pop())
    }

    async fn choice(&self, poll_id: i64, voter: &VoterId) -> StoreResult<Option<i64>> {
        let row: Option<(i64,)> = sqlx::query_as("select option_id from votes where poll_id = $1 and voter_id = $2")
            .bind(poll_id)
            .bind(voter.as_str())
            .fetch_optional(self.reader())
            .await?;
        Ok(row.map(|(id,)| id))
    }

    #[tracing::instrument(skip_all, fields(theme_id = poll.theme_id))]
    async fn create_poll(&self, poll: &NewPoll) -> StoreResult<i64> {
        let mut tx = self.writer().begin().await?;
        let id = insert_poll(&mut tx, poll.theme_id, &poll.content).await?;
        tx.commit().await?;
        Ok(id)
    }

    #[tracing::instrument(skip(self, voter))]
    async fn cast_vote(&self, poll_id: i64, option_id: i64, voter: &VoterId) -> StoreResult<VoteOutcome> {
        let refused = |refusal| Ok(VoteOutcome::Refused(refusal));
        let mut tx = self.writer().begin().await?;
        let poll: Option<(bool,)> = sqlx::query_as("select closed_at is not null from polls where id = $1")
            .bind(poll_id)
            .fetch_optional(&mut *tx)
            .await?;
        match poll {
            None => return refused(Refusal::UnknownPoll { poll_id }),
            Some((true,)) => return refused(Refusal::Closed),
            Some((false,)) => {}
        }
        let option: Option<(i64,)> = sqlx::query_as("select id from options where poll_id = $1 and id = $2")
            .bind(poll_id)
            .bind(option_id)
            .fetch_optional(&mut *tx)
            .await?;
        if option.is_none() {
            return refused(Refusal::UnknownOption { poll_id, option_id });
        }
        // The unique key on (poll, voter) decides races between two requests of one voter.
        let inserted = sqlx::query(
            "insert into votes (poll_id, option_id, voter_id) values ($1, $2, $3)
             on conflict (poll_id, voter_id) do nothing",
        )
        .bind(poll_id)
        .bind(option_id)
        .bind(voter.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            let (option_id, text): (i64, String) = sqlx::query_as(
                "select v.option_id, o.text from votes v join options o on o.id = v.option_id
                  where v.poll_id = $1 and v.voter_id = $2",
            )
            .bind(poll_id)
            .bind(voter.as_str())
            .fetch_one(&mut *tx)
            .await?;
            return refused(Refusal::AlreadyVoted { option_id, text });
        }
        sqlx::query("update options set votes = votes + 1 where id = $1").bind(option_id).execute(&mut *tx).await?;
        tx.commit().await?;
        // Read after the commit: whichever vote commits last then sees every vote, so the
        // highest version published is the complete tally. The vote is committed: a
        // failing read must not turn it into an error, so the tally is simply absent.
        let tally: Result<Vec<(i64, String, i64)>, _> =
            sqlx::query_as("select id, text, votes from options where poll_id = $1 order by position")
                .bind(poll_id)
                .fetch_all(self.reader())
                .await;
        let tally = match tally {
            Ok(rows) => Some(rows.into_iter().map(|(id, text, votes)| PollOption { id, text, votes }).collect()),
            Err(error) => {
                tracing::warn!(%error, poll_id, "vote committed, tally read failed");
                None
            }
        };
        Ok(VoteOutcome::Accepted { tally })
    }

    async fn close_poll(&self, poll_id: i64) -> StoreResult<bool> {
        let done = sqlx::query("update polls set closed_at = current_timestamp where id = $1 and closed_at is null")
            .bind(poll_id)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() == 1)
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
