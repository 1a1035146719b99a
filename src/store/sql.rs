//! The one SQL implementation of [`Store`](super::Store), for every sqlx backend.
//!
//! The queries are written in the SQL that PostgreSQL and SQLite share (`$n` parameters,
//! `on conflict`, `returning`, `current_timestamp`, `cast(… as bigint)`), so both backends
//! run the same statements. sqlx's per-database types keep a generic impl from being
//! practical, so this macro stamps the impl onto each backend's store. A backend provides
//! `reader()` and `writer()` pools, `migrator()`, and `lock_seeding(tx)`.

/// A theme row: id, key, slug, name, icon, color, description.
pub(super) type ThemeRow = (i64, String, String, String, String, String, String);

pub(super) fn theme((id, key, slug, name, icon, color, description): ThemeRow) -> super::Theme {
    super::Theme { id, key, slug, name, icon, color, description }
}

/// Polls and their options, in order, assembled from two row sets.
pub(super) fn assemble(
    heads: Vec<(i64, i64, String, bool)>,
    options: Vec<(i64, i64, String, i64)>,
) -> Vec<super::Poll> {
    let mut by_poll: std::collections::HashMap<i64, Vec<super::PollOption>> = std::collections::HashMap::new();
    for (poll_id, id, text, votes) in options {
        by_poll.entry(poll_id).or_default().push(super::PollOption { id, text, votes });
    }
    heads
        .into_iter()
        .map(|(id, theme_id, question, closed)| super::Poll {
            id,
            theme_id,
            question,
            closed,
            options: by_poll.remove(&id).unwrap_or_default(),
        })
        .collect()
}

macro_rules! sql_store {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn insert_poll(
                tx: &mut sqlx::Transaction<'_, $db>,
                theme_id: i64,
                question: &str,
                options: &[&str],
            ) -> $crate::store::StoreResult<i64> {
                let (poll_id,): (i64,) =
                    sqlx::query_as("insert into polls (theme_id, question) values ($1, $2) returning id")
                        .bind(theme_id)
                        .bind(question)
                        .fetch_one(&mut **tx)
                        .await?;
                for (position, text) in (0_i32..).zip(options) {
                    sqlx::query("insert into options (poll_id, position, text) values ($1, $2, $3)")
                        .bind(poll_id)
                        .bind(position)
                        .bind(*text)
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(poll_id)
            }

            async fn seed_theme(
                tx: &mut sqlx::Transaction<'_, $db>,
                position: i32,
                seed: &$crate::seed::SeedTheme,
            ) -> $crate::store::StoreResult<(i64, bool)> {
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

            /// Polls (`heads`: id, theme, question, closed) with their options (`options`:
            /// poll, id, text, votes), both filtered by the same optional id.
            async fn load_polls(
                &self,
                heads: &'static str,
                options: &'static str,
                filter: Option<i64>,
            ) -> $crate::store::StoreResult<Vec<$crate::store::Poll>> {
                let mut heads = sqlx::query_as(heads);
                let mut options = sqlx::query_as(options);
                if let Some(id) = filter {
                    heads = heads.bind(id);
                    options = options.bind(id);
                }
                let heads: Vec<(i64, i64, String, bool)> = heads.fetch_all(self.reader()).await?;
                if heads.is_empty() {
                    return Ok(Vec::new());
                }
                let options: Vec<(i64, i64, String, i64)> = options.fetch_all(self.reader()).await?;
                Ok($crate::store::sql::assemble(heads, options))
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn migrate(&self) -> $crate::store::StoreResult<()> {
                self.migrator().run(self.writer()).await?;
                Ok(())
            }

            async fn ping(&self) -> $crate::store::StoreResult<()> {
                sqlx::query("select 1").execute(self.reader()).await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn seed(&self, seed: &$crate::seed::SeedData) -> $crate::store::StoreResult<$crate::seed::SeedReport> {
                let mut tx = self.writer().begin().await?;
                Self::lock_seeding(&mut tx).await?;
                let mut report = $crate::seed::SeedReport::default();
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

            async fn themes(&self) -> $crate::store::StoreResult<Vec<$crate::store::Theme>> {
                let rows: Vec<$crate::store::sql::ThemeRow> = sqlx::query_as(
                    "select id, key, slug, name, icon, color, description from themes order by position, id",
                )
                .fetch_all(self.reader())
                .await?;
                Ok(rows.into_iter().map($crate::store::sql::theme).collect())
            }

            async fn theme_stats(&self) -> $crate::store::StoreResult<Vec<$crate::store::ThemeStats>> {
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
                    .map(|(id, key, slug, name, icon, color, description, poll_count, vote_count)| {
                        $crate::store::ThemeStats {
                            theme: $crate::store::sql::theme((id, key, slug, name, icon, color, description)),
                            poll_count,
                            vote_count,
                        }
                    })
                    .collect())
            }

            async fn theme(&self, slug_or_key: &str) -> $crate::store::StoreResult<Option<$crate::store::Theme>> {
                let row: Option<$crate::store::sql::ThemeRow> =
                    sqlx::query_as(
                        "select id, key, slug, name, icon, color, description from themes
                          where slug = $1 or key = $1 order by slug = $1 desc limit 1",
                    )
                        .bind(slug_or_key)
                        .fetch_optional(self.reader())
                        .await?;
                Ok(row.map($crate::store::sql::theme))
            }

            async fn theme_by_id(&self, id: i64) -> $crate::store::StoreResult<Option<$crate::store::Theme>> {
                let row: Option<$crate::store::sql::ThemeRow> =
                    sqlx::query_as("select id, key, slug, name, icon, color, description from themes where id = $1")
                        .bind(id)
                        .fetch_optional(self.reader())
                        .await?;
                Ok(row.map($crate::store::sql::theme))
            }

            async fn polls_of_theme(&self, theme_id: i64) -> $crate::store::StoreResult<Vec<$crate::store::Poll>> {
                self.load_polls(
                    "select id, theme_id, question, closed_at is not null from polls where theme_id = $1 order by id",
                    "select o.poll_id, o.id, o.text, o.votes from options o join polls p on p.id = o.poll_id
                      where p.theme_id = $1 order by o.poll_id, o.position",
                    Some(theme_id),
                )
                .await
            }

            async fn poll_ids_of_theme(&self, theme_id: i64) -> $crate::store::StoreResult<Vec<i64>> {
                let rows: Vec<(i64,)> = sqlx::query_as("select id from polls where theme_id = $1 order by id")
                    .bind(theme_id)
                    .fetch_all(self.reader())
                    .await?;
                Ok(rows.into_iter().map(|(id,)| id).collect())
            }

            async fn polls(&self) -> $crate::store::StoreResult<Vec<$crate::store::Poll>> {
                self.load_polls(
                    "select id, theme_id, question, closed_at is not null from polls order by id",
                    "select poll_id, id, text, votes from options order by poll_id, position",
                    None,
                )
                .await
            }

            #[tracing::instrument(skip(self))]
            async fn poll(&self, id: i64) -> $crate::store::StoreResult<Option<$crate::store::Poll>> {
                let mut polls = self
                    .load_polls(
                        "select id, theme_id, question, closed_at is not null from polls where id = $1",
                        "select poll_id, id, text, votes from options where poll_id = $1 order by position",
                        Some(id),
                    )
                    .await?;
                Ok(polls.pop())
            }

            async fn choice(
                &self,
                poll_id: i64,
                voter: &$crate::domain::VoterId,
            ) -> $crate::store::StoreResult<Option<i64>> {
                let row: Option<(i64,)> =
                    sqlx::query_as("select option_id from votes where poll_id = $1 and voter_id = $2")
                        .bind(poll_id)
                        .bind(voter.as_str())
                        .fetch_optional(self.reader())
                        .await?;
                Ok(row.map(|(id,)| id))
            }

            #[tracing::instrument(skip_all, fields(theme_id = poll.theme_id))]
            async fn create_poll(&self, poll: &$crate::domain::NewPoll) -> $crate::store::StoreResult<i64> {
                let mut tx = self.writer().begin().await?;
                let options: Vec<&str> = poll.options.iter().map(|o| o.as_str()).collect();
                let id = Self::insert_poll(&mut tx, poll.theme_id, poll.question.as_str(), &options).await?;
                tx.commit().await?;
                Ok(id)
            }

            #[tracing::instrument(skip(self, voter))]
            async fn cast_vote(
                &self,
                poll_id: i64,
                option_id: i64,
                voter: &$crate::domain::VoterId,
            ) -> $crate::store::StoreResult<$crate::store::VoteOutcome> {
                use $crate::store::VoteOutcome;
                let mut tx = self.writer().begin().await?;
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
                     on conflict (poll_id, voter_id) do nothing",
                )
                .bind(poll_id)
                .bind(option_id)
                .bind(voter.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted == 0 {
                    let (earlier,): (i64,) =
                        sqlx::query_as("select option_id from votes where poll_id = $1 and voter_id = $2")
                            .bind(poll_id)
                            .bind(voter.as_str())
                            .fetch_one(&mut *tx)
                            .await?;
                    return Ok(VoteOutcome::AlreadyVoted { option_id: earlier });
                }
                sqlx::query("update options set votes = votes + 1 where id = $1")
                    .bind(option_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                // Read after the commit: whichever vote commits last then sees every vote, so
                // the highest version published is the complete tally. The vote is committed:
                // a failing read must not turn it into an error. An empty tally publishes
                // nothing; the next vote or a refresh heals the viewers.
                let rows: Vec<(i64, String, i64)> =
                    sqlx::query_as("select id, text, votes from options where poll_id = $1 order by position")
                        .bind(poll_id)
                        .fetch_all(self.reader())
                        .await
                        .unwrap_or_else(|error| {
                            tracing::warn!(%error, poll_id, "vote committed, tally read failed");
                            Vec::new()
                        });
                Ok(VoteOutcome::Accepted(
                    rows.into_iter().map(|(id, text, votes)| $crate::store::PollOption { id, text, votes }).collect(),
                ))
            }

            async fn close_poll(&self, poll_id: i64) -> $crate::store::StoreResult<bool> {
                let done =
                    sqlx::query("update polls set closed_at = current_timestamp where id = $1 and closed_at is null")
                        .bind(poll_id)
                        .execute(self.writer())
                        .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn totals(&self) -> $crate::store::StoreResult<$crate::store::Totals> {
                let (themes, polls, options, votes): (i64, i64, i64, i64) = sqlx::query_as(
                    "select (select count(*) from themes), (select count(*) from polls),
                            (select count(*) from options), (select count(*) from votes)",
                )
                .fetch_one(self.reader())
                .await?;
                Ok($crate::store::Totals { themes, polls, options, votes })
            }
        }
    };
}

pub(super) use sql_store;
