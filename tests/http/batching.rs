//! The vote writer: ballots arriving together share one transaction (bounded by count and
//! by time), duplicates and bad ballots inside a batch are refused alone, a batch that
//! fails to commit answers every ballot in it with a 503 and stores none, and shutdown
//! writes what was waiting.

use futures::future::join_all;
use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::json;

use crate::on_each_backend;
use crate::support::{Backend, Page, TestApp, new_client, spawn_app_with};

/// (batches written, ballots in them) from `/metrics`.
/// One series of `/metrics`, by the start of its line.
async fn metric(app: &TestApp, name: &str) -> u64 {
    let text = app.get("/metrics").await.body;
    let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in\n{text}"));
    line.rsplit(' ').next().unwrap().parse::<f64>().unwrap() as u64
}

async fn batches(app: &TestApp) -> (u64, u64) {
    (metric(app, "votestream_vote_batch_size_count ").await, metric(app, "votestream_vote_batch_size_sum ").await)
}

/// Each of `options` voted by a new voter, all at once.
async fn vote_together(app: &TestApp, poll: i64, options: &[i64]) -> Vec<Page> {
    join_all(options.iter().map(|option| async move {
        app.post_form_with(&new_client(), &format!("/polls/{poll}/votes"), &[("option", &option.to_string())], &[])
            .await
    }))
    .await
}

#[apply(on_each_backend)]
#[tokio::test]
async fn ballots_arriving_together_share_a_transaction_up_to_the_batch_size(#[case] backend: Backend) {
    let app = spawn_app_with(backend, &[("VOTE_BATCH_MAX", "4"), ("VOTE_BATCH_WAIT_MS", "400")]).await;
    let poll = app.create_poll(json!({})).await;

    let votes = vote_together(&app, poll.id, &[poll.options[0]; 10]).await;

    assert!(votes.iter().all(|v| v.status == StatusCode::SEE_OTHER));
    assert_eq!(batches(&app).await, (3, 10), "4 + 4 + 2: two full batches, then the window closed");
    assert_eq!(app.api(&format!("/api/polls/{}", poll.id)).await["total"], 10);
    assert_eq!(app.counters_out_of_step().await, 0);

    let one = vote_together(&app, poll.id, &[poll.options[1]]).await;
    assert_eq!(one[0].status, StatusCode::SEE_OTHER);
    assert_eq!(batches(&app).await, (4, 11), "a lone ballot is written when its window closes");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn duplicates_and_foreign_options_in_a_batch_are_refused_alone(#[case] backend: Backend) {
    let app = spawn_app_with(backend, &[("VOTE_BATCH_WAIT_MS", "400")]).await;
    let poll = app.create_poll(json!({})).await;
    let other = app.create_poll(json!({})).await;
    let voter = new_client();
    voter.get(app.url("/")).send().await.unwrap(); // its voter cookie, before the ballots race
    let path = format!("/polls/{}/votes", poll.id);
    let twice = [poll.options[0], poll.options[2], poll.options[1]];

    let own_votes = twice.iter().map(|o| {
        let (app, voter, path, option) = (&app, &voter, &path, o.to_string());
        async move { app.post_form_with(voter, path, &[("option", &option)], &[]).await }
    });
    let mixed = [poll.options[1], other.options[0], poll.options[2]];
    let (own, others) = tokio::join!(join_all(own_votes), vote_together(&app, poll.id, &mixed));

    assert_eq!(batches(&app).await.0, 1, "all in one batch");
    let accepted: Vec<usize> = (0..3).filter(|&i| own[i].status == StatusCode::SEE_OTHER).collect();
    assert_eq!(accepted.len(), 1, "one ballot per voter, even within a batch");
    let chosen = ["Tea", "Water", "Coffee"][accepted[0]];
    for (i, page) in own.iter().enumerate().filter(|(i, _)| *i != accepted[0]) {
        assert_eq!(page.status, StatusCode::CONFLICT, "ballot {i}");
        assert_eq!(page.text(".notice"), format!("You already voted for “{chosen}”. One vote per poll."));
    }
    assert_eq!(
        others.iter().map(|p| p.status).collect::<Vec<_>>(),
        [StatusCode::SEE_OTHER, StatusCode::UNPROCESSABLE_ENTITY, StatusCode::SEE_OTHER]
    );
    assert!(
        others[1]
            .text(".error-page .message")
            .contains(&format!("Option {} is not part of poll {}", other.options[0], poll.id))
    );

    let later = app.post_form_with(&voter, &path, &[("option", &poll.options[1].to_string())], &[]).await;
    assert_eq!(later.status, StatusCode::CONFLICT, "and across batches");
    assert_eq!(app.api(&format!("/api/polls/{}", poll.id)).await["total"], 3);
    assert_eq!(app.api(&format!("/api/polls/{}", other.id)).await["total"], 0);
    assert_eq!(app.counters_out_of_step().await, 0);
}

#[tokio::test]
async fn a_batch_that_fails_to_commit_answers_every_ballot_with_503_and_stores_none() {
    let app = spawn_app_with(Backend::Postgres, &[("VOTE_BATCH_WAIT_MS", "400")]).await;
    let poll = app
        .create_poll(json!({ "options": [{ "text": "Fine" }, { "text": "Poison" }, { "text": "Also fine" }] }))
        .await;
    // The database itself refuses the commit of any transaction holding a vote for
    // "Poison": a deferred constraint trigger, checked at commit time.
    app.execute(
        "create function refuse_poison() returns trigger language plpgsql as $$
         begin
           if exists (select 1 from options where id = new.option_id and text = 'Poison') then
             raise exception 'poisoned batch';
           end if;
           return null;
         end $$",
    )
    .await;
    app.execute(
        "create constraint trigger refuse_poison after insert on votes deferrable initially deferred
         for each row execute function refuse_poison()",
    )
    .await;

    let votes =
        vote_together(&app, poll.id, &[poll.options[0], poll.options[1], poll.options[2], poll.options[0]]).await;

    assert_eq!(batches(&app).await, (1, 4));
    for vote in &votes {
        assert_eq!(vote.status, StatusCode::SERVICE_UNAVAILABLE, "{}", vote.body);
        assert!(vote.text(".error-page .message").contains("nothing was saved"), "{}", vote.body);
        assert!(vote.header("retry-after").parse::<u32>().unwrap() >= 1);
    }
    assert_eq!(app.scalar("select count(*) from ballots").await, 0, "nothing half-written");
    assert_eq!(app.api(&format!("/api/polls/{}", poll.id)).await["total"], 0);

    let after = vote_together(&app, poll.id, &[poll.options[2]]).await;
    assert_eq!(after[0].status, StatusCode::SEE_OTHER, "the next batch is written as usual");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn shutdown_writes_the_ballots_that_were_waiting(#[case] backend: Backend) {
    let app = spawn_app_with(backend, &[("VOTE_BATCH_WAIT_MS", "1500")]).await;
    let poll = app.create_poll(json!({})).await;
    let url = app.url(&format!("/polls/{}/votes", poll.id));
    let votes: Vec<_> = (0..5)
        .map(|i| {
            let (url, option) = (url.clone(), poll.options[i % 3].to_string());
            tokio::spawn(async move {
                new_client().post(url).form(&[("option", option)]).header("Sec-Fetch-Site", "same-origin").send().await
            })
        })
        .collect();
    // The ballots wait in the writer's 1.5 s window when the server is told to stop.
    crate::support::eventually("five ballots waiting in the writer", std::time::Duration::from_secs(10), async || {
        let waiting = metric(&app, "votestream_votes_waiting ").await;
        if waiting == 5 { Ok(()) } else { Err(waiting) }
    })
    .await;

    app.state.shutdown.cancel();

    for vote in votes {
        assert_eq!(vote.await.unwrap().unwrap().status(), StatusCode::SEE_OTHER, "answered during the drain");
    }
    assert_eq!(app.scalar("select count(*) from ballots").await, 5, "every acknowledged ballot stored");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn inside_one_batch_each_ballot_is_checked_alone_against_the_locked_polls(#[case] backend: Backend) {
    use votestream::domain::{Ballot, Refusal, VoteOutcome, VoterId};
    let app = spawn_app_with(backend, &[]).await;
    let open = app.create_poll(json!({ "max_choices": 2 })).await;
    let closed = app.create_poll(json!({})).await;
    app.patch_poll(closed.id, &closed.key, &json!({ "closed": true })).await;
    let (alice, bob) = (VoterId::random(), VoterId::random());
    let ballot =
        |poll: i64, options: Vec<i64>, voter: &VoterId| Ballot::new(poll, options, voter.clone(), "addr".into());
    // The backstop behind the checks the routes make first: the writer's own.
    let batch = [
        ballot(open.id, vec![open.options[0], open.options[1]], &alice),
        ballot(open.id, vec![closed.options[0]], &bob),
        ballot(closed.id, vec![closed.options[0]], &bob),
        ballot(open.id, vec![open.options[2]], &alice),
        ballot(open.id, open.options.clone(), &bob),
        ballot(999_999, vec![1], &bob),
        ballot(open.id, vec![open.options[2]], &bob),
    ];

    let outcomes = app.state.polls.store().cast_ballots(&batch).await.unwrap();

    assert!(matches!(&outcomes[0], VoteOutcome::Accepted { poll: Some(p) } if p.voters == 2 && p.total() == 3));
    assert_eq!(
        outcomes[1],
        VoteOutcome::Refused(Refusal::UnknownOption { poll_id: open.id, option_id: closed.options[0] })
    );
    assert_eq!(outcomes[2], VoteOutcome::Refused(Refusal::Closed));
    assert_eq!(
        outcomes[3],
        VoteOutcome::Refused(Refusal::AlreadyVoted {
            choices: vec![(open.options[0], "Tea".into()), (open.options[1], "Coffee".into())]
        })
    );
    assert_eq!(outcomes[4], VoteOutcome::Refused(Refusal::TooManyChoices { max: 2, picked: 3 }));
    assert_eq!(outcomes[5], VoteOutcome::Refused(Refusal::UnknownPoll { poll_id: 999_999 }));
    assert!(matches!(&outcomes[6], VoteOutcome::Accepted { .. }), "bob's good ballot after his bad ones");
    assert_eq!(app.scalar("select count(*) from ballots").await, 2);
    assert_eq!(app.counters_out_of_step().await, 0);
}

/// What an owner does to a poll while a batch naming it is being written.
#[derive(Debug, Clone, Copy)]
enum Change {
    Close,
    GuardByAddress,
    Delete,
}

/// A batch reads its polls, writes its ballots and votes, and locks the polls only to move
/// their counters: a close or a change of protection that commits after the votes are
/// written is found under the lock, and a delete before the ballots are written fails them;
/// the batch then starts over on the polls as they are now. The other poll's ballot in the
/// same batch is stored either way.
#[rstest]
#[case::closed(Change::Close)]
#[case::guarded_otherwise(Change::GuardByAddress)]
#[case::deleted(Change::Delete)]
#[tokio::test]
async fn a_poll_changed_while_its_batch_is_written_is_voted_on_as_it_is_now(#[case] change: Change) {
    use sqlx::Connection;
    use votestream::domain::{Ballot, Refusal, VoteOutcome, VoterId};
    let app = spawn_app_with(Backend::Postgres, &[]).await;
    let poll = app.create_poll(json!({})).await;
    let other = app.create_poll(json!({})).await;
    // The batch's first insert of a try takes a shared advisory lock, which the test holds:
    // the batch waits there. A delete must come before its ballots name the poll (it would
    // wait for the batch after); the others after its votes are written.
    let (table, timing) = match change {
        Change::Delete => ("ballots", "before"),
        Change::Close | Change::GuardByAddress => ("votes", "after"),
    };
    let pause = format!(
        "create function pause_batch() returns trigger language plpgsql as $$
         begin perform pg_advisory_xact_lock_shared(4242); return null; end $$;
         create trigger pause_batch {timing} insert on {table} for each statement execute function pause_batch()"
    );
    let mut holder = sqlx::PgConnection::connect(&app.database_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(pause)).execute(&mut holder).await.unwrap();
    sqlx::query("select pg_advisory_lock(4242)").execute(&mut holder).await.unwrap();

    let store = app.state.polls.store().clone();
    let (voter, bystander) = (VoterId::random(), VoterId::random());
    let batch = [
        Ballot::new(poll.id, vec![poll.options[0]], voter, "addr".into()),
        Ballot::new(other.id, vec![other.options[1]], bystander, "addr".into()),
    ];
    let writing = tokio::spawn(async move { store.cast_ballots(&batch).await });
    crate::support::eventually("the batch paused", std::time::Duration::from_secs(10), async || {
        let waiting = app
            .scalar(
                "select count(*) from pg_locks where locktype = 'advisory' and objid = 4242 and not granted
                    and database = (select oid from pg_database where datname = current_database())",
            )
            .await;
        if waiting == 1 { Ok(()) } else { Err(waiting) }
    })
    .await;

    // The owner's request must not wait for the batch (with the poll locked first it would).
    let owner = async {
        match change {
            Change::Close => app.patch_poll(poll.id, &poll.key, &json!({ "closed": true })).await.status,
            Change::GuardByAddress => app.patch_poll(poll.id, &poll.key, &json!({ "protection": "ip" })).await.status,
            Change::Delete => {
                let url = app.url(&format!("/api/polls/{}", poll.id));
                new_client().delete(url).bearer_auth(&poll.key).send().await.unwrap().status()
            }
        }
    };
    let status =
        tokio::time::timeout(std::time::Duration::from_secs(10), owner).await.expect("the owner's change waited");
    assert!(status.is_success(), "{change:?}: {status}");
    sqlx::query("select pg_advisory_unlock(4242)").execute(&mut holder).await.unwrap();
    let outcomes = writing.await.unwrap().unwrap();

    let stored = app.scalar("select count(*) from ballots").await;
    match change {
        Change::Close => {
            assert_eq!(outcomes[0], VoteOutcome::Refused(Refusal::Closed), "no vote lands after the close");
            assert_eq!(stored, 1, "only the other poll's ballot");
        }
        Change::GuardByAddress => {
            assert!(matches!(&outcomes[0], VoteOutcome::Accepted { poll: Some(p) } if p.voters == 1), "{outcomes:?}");
            let by_address = app.scalar("select count(*) from ballots where guard_key = 'ip:addr'").await;
            assert_eq!((stored, by_address), (2, 1), "the ballot kept under the rule in force when it committed");
        }
        Change::Delete => {
            assert_eq!(outcomes[0], VoteOutcome::Refused(Refusal::UnknownPoll { poll_id: poll.id }));
            assert_eq!(stored, 1, "only the other poll's ballot");
        }
    }
    assert!(matches!(&outcomes[1], VoteOutcome::Accepted { poll: Some(p) } if p.voters == 1), "{outcomes:?}");
    assert_eq!(app.counters_out_of_step().await, 0);
}
