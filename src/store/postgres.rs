//! PostgreSQL backend.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use super::{Poll, PollOption, Store, StoreResult, Theme, ThemeStats, Totals, VoteOutcome};
use crate::config::Settings;
use crate::domain::{NewPoll, VoterId};
use crate::seed::{SeedData, SeedReport};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Any number taken as the advisory lock that serialises seeding across replicas.
const SEED_LOCK: i64 = 0x766f_7465_7365_6564;

type ThemeRow = (i64, String, String, String, String, String, String);

fn theme((id, key, slug, name, icon, color, description): ThemeRow) -> Theme {
    Theme { id, key, slug, name, icon, color, description }
}

/// The PostgreSQL store: a connection pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Opens a pool to `settings.database_url`.
    pub async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(settings.db_max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect(&settings.database_url)
            .await
            .with_context(|| format!("connecting to {}", settings.database_url_redacted()))?;
        Ok(Self { pool })
    }

    /// Polls with these ids and their options, in the order of `ids`.
    async fn load_polls(&self, heads: Vec<(i64, i64, String, bool)>) -> StoreResult<Vec<Poll>> {
        let ids: Vec<i64> = heads.iter().map(|h| h.0).collect();
        let rows: Vec<(i64, i64, String, i64)> = sqlx::query_as(
            "select poll_id, id, text, votes from options where poll_id = any($1) order by poll_id, position",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        let mut options: HashMap<i64, Vec<PollOption>> = HashMap::new();
        for (poll_id, id, text, votes) in rows {
            options.entry(poll_id).or_default().push(PollOption { id, text, votes });
        }
        Ok(heads
            .into_iter()
            .map(|(id, theme_id, question, closed)| Poll {
                id,
                theme_id,
                question,
                closed,
                options: options.remove(&id).unwrap_or_default(),
            })
            .collect())
    }

    async fn seed_theme(
        tx: &mut Transaction<'_, Postgres>,
        position: i32,
        seed: &crate::seed::SeedTheme,
    ) -> StoreResult<(i64, bool)> {
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

    async fn insert_poll(
        tx: &mut Transaction<'_, Postgres>,
        theme_id: i64,
        question: &str,
        options: &[&str],
    ) -> StoreResult<i64> {
        let (poll_id,): (i64,) = sqlx::query_as("insert into polls (theme_id, question) values ($1, $2) returning id")
            .bind(theme_id)
            .bind(question)
            .fetch_one(&mut **tx)
            .await?;
        let positions: Vec<i32> = (0..).take(options.len()).collect();
        sqlx::query("insert into options (poll_id, position, text) select $1, * from unnest($2::int[], $3::text[])")
            .bind(poll_id)
            .bind(&positions)
            .bind(options)
            .execute(&mut **tx)
            .await?;
        Ok(poll_id)
    }
}

#[async_trait]
impl Store for PgStore {
    async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn seed(&self, seed: &SeedData) -> StoreResult<SeedReport> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("select pg_advisory_xact_lock($1)").bind(SEED_LOCK).execute(&mut *tx).await?;
        let mut report = SeedReport::default();
        for (position, seed_theme) in (0..).zip(&seed.themes) {
            let (theme_id, added) = Self::seed_theme(&mut tx, position, seed_theme).await?;
            report.themes_added += usize::from(added);
            for poll in &seed_theme.polls {
                let exists: Option<(i64,)> =
                    sqlx::query_as("select id from polls where theme_id = $1 and question = $2 limit 1")
                        .bind(theme_id)
                        .bind(&poll.question)
                        .fetch_optional(&mut *tx)
                        .await?;
                if exists.is_none() {
                    let options: Vec<&str> = poll.options.iter().map(String::as_str).collect();
                    Self::insert_poll(&mut tx, theme_id, &poll.question, &options).await?;
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
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(theme).collect())
    }

    async fn theme_stats(&self) -> StoreResult<Vec<ThemeStats>> {
        let rows: Vec<(i64, String, String, String, String, String, String, i64, i64)> = sqlx::query_as(
            "select t.id, t.key, t.slug, t.name, t.icon, t.color, t.description,
                    (select count(*) from polls p where p.theme_id = t.id),
                    (select coalesce(sum(o.votes), 0)::bigint
                       from polls p join options o on o.poll_id = p.id
                      where p.theme_id = t.id)
               from themes t
              order by t.position, t.id",
        )
        .fetch_all(&self.pool)
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
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(theme))
    }

    async fn theme_by_id(&self, id: i64) -> StoreResult<Option<Theme>> {
        let row: Option<ThemeRow> =
            sqlx::query_as("select id, key, slug, name, icon, color, description from themes where id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(theme))
    }

    async fn polls_of_theme(&self, theme_id: i64) -> StoreResult<Vec<Poll>> {
        let heads = sqlx::query_as(
            "select id, theme_id, question, closed_at is not null from polls where theme_id = $1 order by id",
        )
        .bind(theme_id)
        .fetch_all(&self.pool)
        .await?;
        self.load_polls(heads).await
    }

    async fn poll_ids_of_theme(&self, theme_id: i64) -> StoreResult<Vec<i64>> {
        let rows: Vec<(i64,)> = sqlx::query_as("select id from polls where theme_id = $1 order by id")
            .bind(theme_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn polls(&self) -> StoreResult<Vec<Poll>> {
        let heads = sqlx::query_as("select id, theme_id, question, closed_at is not null from polls order by id")
            .fetch_all(&self.pool)
            .await?;
        self.load_polls(heads).await
    }

    #[tracing::instrument(skip(self))]
    async fn poll(&self, id: i64) -> StoreResult<Option<Poll>> {
        let head = sqlx::query_as("select id, theme_id, question, closed_at is not null from polls where id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(self.load_polls(head.into_iter().collect()).await?.pop())
    }

    async fn choice(&self, poll_id: i64, voter: &VoterId) -> StoreResult<Option<i64>> {
        let row: Option<(i64,)> = sqlx::query_as("select option_id from votes where poll_id = $1 and voter_id = $2")
            .bind(poll_id)
            .bind(voter.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(id,)| id))
    }

    #[tracing::instrument(skip_all, fields(theme_id = poll.theme_id))]
    async fn create_poll(&self, poll: &NewPoll) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await?;
        let options: Vec<&str> = poll.options.iter().map(|o| o.as_str()).collect();
        let id = Self::insert_poll(&mut tx, poll.theme_id, poll.question.as_str(), &options).await?;
        tx.commit().await?;
        Ok(id)
    }

    #[tracing::instrument(skip(self, voter))]
    async fn cast_vote(&self, poll_id: i64, option_id: i64, voter: &VoterId) -> StoreResult<VoteOutcome> {
        let mut tx = self.pool.begin().await?;
        let poll: Option<(bool,)> = sqlx::query_as("select closed_at is not null from polls where id = $1")
            .bind(poll_id)
            .fetch_optional(&mut *tx)
            .await?;
        match poll {
            None => return Ok(VoteOutcome::UnknownPoll),
            Some((true,)) => return Ok(VoteOutcome::Closed),
            Some((false,)) => {}
        }
        let option: Option<(i64,)> = sqlx::query_as("select id from options where poll_id = $1 and id = $2")
            .bind(poll_id)
            .bind(option_id)
            .fetch_optional(&mut *tx)
            .await?;
        if option.is_none() {
            return Ok(VoteOutcome::UnknownOption);
        }
        // The unique key on (poll, voter) decides races between two requests of one voter.
        let inserted = sqlx::query(
            "insert into votes (poll_id, option_id, voter_id) values ($1, $2, $3)
             on conflict on constraint votes_poll_id_voter_id_key do nothing",
        )
        .bind(poll_id)
        .bind(option_id)
        .bind(voter.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            let (earlier,): (i64,) = sqlx::query_as("select option_id from votes where poll_id = $1 and voter_id = $2")
                .bind(poll_id)
                .bind(voter.as_str())
                .fetch_one(&mut *tx)
                .await?;
            return Ok(VoteOutcome::AlreadyVoted { option_id: earlier });
        }
        sqlx::query("update options set votes = votes + 1 where id = $1").bind(option_id).execute(&mut *tx).await?;
        tx.commit().await?;
        // Read after the commit: whichever vote commits last then sees every vote, so the
        // highest version published is the complete tally.
        // The vote is committed: a failing read must not turn it into an error. An empty
        // tally publishes nothing; the next vote or a refresh heals the viewers.
        let rows: Vec<(i64, String, i64)> =
            sqlx::query_as("select id, text, votes from options where poll_id = $1 order by position")
                .bind(poll_id)
                .fetch_all(&self.pool)
                .await
                .unwrap_or_else(|error| {
                    tracing::warn!(%error, poll_id, "vote committed, tally read failed");
                    Vec::new()
                });
        Ok(VoteOutcome::Accepted(rows.into_iter().map(|(id, text, votes)| PollOption { id, text, votes }).collect()))
    }

    async fn close_poll(&self, poll_id: i64) -> StoreResult<bool> {
        let done = sqlx::query("update polls set closed_at = now() where id = $1 and closed_at is null")
            .bind(poll_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn totals(&self) -> StoreResult<Totals> {
        let (themes, polls, options, votes): (i64, i64, i64, i64) = sqlx::query_as(
            "select (select count(*) from themes), (select count(*) from polls),
                    (select count(*) from options), (select count(*) from votes)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Totals { themes, polls, options, votes })
    }
}
