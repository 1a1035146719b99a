//! Voters: new voters on one poll (the single-poll rows), and a realistic mix over many
//! polls. Each records who was told yes, so the bench can check what is stored against it,
//! voter by voter.

use std::collections::HashSet;

use hyper::header::{self, HeaderMap, HeaderName};
use hyper::{Method, StatusCode};
use rand::Rng;
use rand::rngs::SmallRng;

use votestream_harness::voter_of;

use crate::load::{Client, Request};

/// The `vs_voter=…` pair of a response's voter cookie, to send back as `Cookie`.
fn cookie_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.split(';').next().filter(|pair| pair.starts_with("vs_voter=")).map(str::to_owned))
}

/// A new voter (no cookie) for every vote, on one poll, through the JSON API.
pub struct NewVoters {
    pub poll: i64,
    /// Acknowledged voters.
    pub told_yes: Vec<String>,
    /// Votes whose answer never came: stored or not, nobody was told.
    pub unanswered: usize,
}

impl NewVoters {
    pub fn on(poll: i64) -> Self {
        Self { poll, told_yes: Vec::new(), unanswered: 0 }
    }
}

impl Client for NewVoters {
    fn next(&mut self) -> Request {
        Request::post_json(format!("/api/polls/{}/vote", self.poll), r#"{"choice": 1}"#.to_owned())
    }

    fn answered(&mut self, status: StatusCode, headers: &HeaderMap, _: &[u8]) -> bool {
        match (status, voter_of(headers)) {
            (StatusCode::OK, Some(voter)) => {
                self.told_yes.push(voter);
                true
            }
            _ => false,
        }
    }

    fn lost(&mut self) {
        self.unanswered += 1;
    }
}

/// A poll and a voter.
pub type Pair = (i64, String);

/// One poll of the mix: its id and its options' ids.
#[derive(Debug, Clone)]
pub struct MixPoll {
    pub id: i64,
    pub options: Vec<i64>,
}

/// What the mix sends, in the shares the issue names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A vote through the JSON API: 200.
    Api,
    /// A vote through the HTML form: 303 to the poll page…
    Form,
    /// …which the browser then loads with its cookie: 200.
    FollowForm,
    /// The same voter on a poll it voted in already: 409.
    Repeat,
}

/// A connection acting as a stream of visitors: 70 % JSON votes, 20 % form votes (303,
/// then the page), 10 % repeat attempts that must be refused; 30 % of votes on the hot
/// poll; half the voters return with the cookie of an earlier vote.
pub struct Mix {
    polls: std::sync::Arc<Vec<MixPoll>>,
    rng: SmallRng,
    /// Cookies of this connection's voters, with their ids.
    voters: Vec<(String, String)>,
    /// (poll, voter) pairs told yes.
    pub told_yes: HashSet<(i64, String)>,
    /// (poll, voter) pairs told "already voted".
    pub told_already: Vec<(i64, String)>,
    /// Answers that were not what a user should get.
    pub wrong: Vec<String>,
    /// Votes whose answer never came.
    pub unanswered: usize,
    /// The request in flight: what it was, on which poll, by which voter (`None`: new).
    pending: Option<(Step, i64, Option<usize>)>,
    /// Where the last form vote said to go.
    follow: Option<(String, usize)>,
}

impl Mix {
    pub fn new(polls: std::sync::Arc<Vec<MixPoll>>, seed: u64) -> Self {
        use rand::SeedableRng;
        Self {
            polls,
            rng: SmallRng::seed_from_u64(seed),
            voters: Vec::new(),
            told_yes: HashSet::new(),
            told_already: Vec::new(),
            wrong: Vec::new(),
            unanswered: 0,
            pending: None,
            follow: None,
        }
    }

    /// The hot poll (the first) 30 % of the time, else any.
    fn pick_poll(&mut self) -> usize {
        if self.rng.random_bool(0.3) { 0 } else { self.rng.random_range(0..self.polls.len()) }
    }

    /// A returning voter (half the time, when there is one who has not voted on `poll`
    /// here), else a new one.
    fn pick_voter(&mut self, poll: i64) -> Option<usize> {
        if self.voters.is_empty() || self.rng.random_bool(0.5) {
            return None;
        }
        let i = self.rng.random_range(0..self.voters.len());
        (!self.told_yes.contains(&(poll, self.voters[i].1.clone()))).then_some(i)
    }

    fn with_cookie(&self, request: Request, voter: Option<usize>) -> Request {
        match voter {
            Some(i) => request.with(header::COOKIE, &self.voters[i].0),
            None => request,
        }
    }
}

impl Client for Mix {
    fn next(&mut self) -> Request {
        if let Some((location, voter)) = self.follow.take() {
            self.pending = Some((Step::FollowForm, 0, Some(voter)));
            return self.with_cookie(Request::get(location), Some(voter));
        }
        let roll: f64 = self.rng.random();
        if roll < 0.1 && !self.told_yes.is_empty() {
            // A voter of this connection trying again where it was told yes.
            let n = self.rng.random_range(0..self.told_yes.len());
            let (poll, voter) = self.told_yes.iter().nth(n).cloned().unwrap_or_default();
            if let Some(i) = self.voters.iter().position(|(_, id)| *id == voter) {
                self.pending = Some((Step::Repeat, poll, Some(i)));
                let request = Request::post_json(format!("/api/polls/{poll}/vote"), r#"{"choice": 0}"#.to_owned());
                return self.with_cookie(request, Some(i));
            }
        }
        let index = self.pick_poll();
        let poll = self.polls[index].clone();
        let voter = self.pick_voter(poll.id);
        let choice = self.rng.random_range(0..poll.options.len());
        if roll < 0.3 {
            self.pending = Some((Step::Form, poll.id, voter));
            let request = Request {
                method: Method::POST,
                path: format!("/polls/{}/votes", poll.id),
                headers: vec![(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("application/x-www-form-urlencoded"),
                )],
                body: format!("option={}", poll.options[choice]).into(),
            }
            // What a browser's form post says of itself: same-origin.
            .with(HeaderName::from_static("sec-fetch-site"), "same-origin");
            return self.with_cookie(request, voter);
        }
        self.pending = Some((Step::Api, poll.id, voter));
        let request = Request::post_json(format!("/api/polls/{}/vote", poll.id), format!(r#"{{"choice": {choice}}}"#));
        self.with_cookie(request, voter)
    }

    fn answered(&mut self, status: StatusCode, headers: &HeaderMap, _: &[u8]) -> bool {
        let Some((step, poll, voter)) = self.pending.take() else { return false };
        // A new voter's id comes back in its cookie; a returning voter keeps its own.
        let who = match voter {
            Some(i) => Some(i),
            None => match (cookie_of(headers), voter_of(headers)) {
                (Some(cookie), Some(id)) => {
                    self.voters.push((cookie, id));
                    Some(self.voters.len() - 1)
                }
                _ => None,
            },
        };
        let right = match (step, status, who) {
            // A second yes for one voter and poll is wrong: only one ballot can be stored.
            (Step::Api, StatusCode::OK, Some(i)) => self.told_yes.insert((poll, self.voters[i].1.clone())),
            (Step::Form, StatusCode::SEE_OTHER, Some(i)) => {
                self.told_yes.insert((poll, self.voters[i].1.clone()));
                match headers.get(header::LOCATION).and_then(|l| l.to_str().ok()) {
                    Some(location) => {
                        self.follow = Some((location.to_owned(), i));
                        true
                    }
                    None => false,
                }
            }
            (Step::FollowForm, StatusCode::OK, _) => true,
            (Step::Repeat, StatusCode::CONFLICT, Some(i)) => {
                self.told_already.push((poll, self.voters[i].1.clone()));
                true
            }
            _ => false,
        };
        if !right {
            self.wrong.push(format!("{step:?} on poll {poll}: {status}"));
        }
        right
    }

    fn lost(&mut self) {
        if let Some((step, _, _)) = self.pending.take()
            && step != Step::FollowForm
        {
            self.unanswered += 1;
        }
    }
}

/// Stored ballots against what voters were told: every pair told yes stored exactly once,
/// nothing stored that nobody was told (beyond the `unanswered` votes, which may or may not
/// have been), every "already voted" about a stored ballot, and every counter equal to its
/// vote rows. An empty list when all holds.
pub async fn differences(
    database_url: &str,
    polls: &[i64],
    (told_yes, told_already): (&HashSet<Pair>, &[Pair]),
    unanswered: usize,
) -> anyhow::Result<Vec<String>> {
    let mut stored: HashSet<(i64, String)> = HashSet::new();
    let mut problems = Vec::new();
    for &poll in polls {
        for (voter, n) in votestream_harness::ballots_by_voter(database_url, poll).await {
            if n != 1 {
                problems.push(format!("voter {voter} has {n} ballots on poll {poll}"));
            }
            stored.insert((poll, voter));
        }
        let out_of_step = votestream_harness::counters_out_of_step(database_url, poll).await;
        if out_of_step > 0 {
            problems.push(format!("{out_of_step} counters of poll {poll} differ from their vote rows"));
        }
    }
    let lost = told_yes.difference(&stored).count();
    let extra = stored.difference(told_yes).count();
    if lost > 0 {
        problems.push(format!("{lost} acknowledged votes not stored"));
    }
    if extra > unanswered {
        problems.push(format!("{extra} stored votes nobody was told of ({unanswered} answers were lost)"));
    }
    let wrongly_refused = told_already.iter().filter(|pair| !stored.contains(*pair)).count();
    if wrongly_refused > 0 {
        problems.push(format!("{wrongly_refused} told 'already voted' without a stored ballot"));
    }
    Ok(problems)
}
