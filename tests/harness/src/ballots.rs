//! Who was told what, against what is stored: the voter behind each answer, the ballots
//! per voter, counters against their vote rows. The one way tests and the bench check
//! "no acknowledged vote lost" by identity.

use std::collections::HashMap;

use reqwest::header::HeaderMap;
use sqlx::Connection;

/// The voter id a response gave its new voter: the signed `vs_voter` cookie's value ends
/// with it. `None` when the response set no voter cookie.
pub fn voter_of(headers: &HeaderMap) -> Option<String> {
    headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|cookie| {
        let value = cookie.split(';').next()?.strip_prefix("vs_voter=")?;
        (value.len() >= 32).then(|| value[value.len() - 32..].to_owned())
    })
}

/// The voters with a ballot in `poll`, each with how many ballots (one, if all is well).
pub async fn ballots_by_voter(database_url: &str, poll: i64) -> HashMap<String, i64> {
    let mut connection = sqlx::PgConnection::connect(database_url).await.unwrap();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("select voter_key, count(*) from ballots where poll_id = $1 group by voter_key")
            .bind(poll)
            .fetch_all(&mut connection)
            .await
            .unwrap();
    rows.into_iter().collect()
}

/// Options of `poll` whose counter differs from their vote rows (should be none).
pub async fn counters_out_of_step(database_url: &str, poll: i64) -> i64 {
    let mut connection = sqlx::PgConnection::connect(database_url).await.unwrap();
    let (n,): (i64,) = sqlx::query_as(
        "select count(*) from options o where o.poll_id = $1 \
         and o.votes <> (select count(*) from votes v where v.option_id = o.id)",
    )
    .bind(poll)
    .fetch_one(&mut connection)
    .await
    .unwrap();
    n
}

/// What one vote sent as JSON got back, by the voter's identity.
#[derive(Debug)]
pub enum Answer {
    /// 200: the voter's id, and the replica that answered (`X-Replica`).
    Acknowledged { voter: String, replica: String },
    /// Any other status, with the voter it named (if any), the JSON `error` it gave and
    /// whether it said when to retry.
    Refused { status: reqwest::StatusCode, voter: Option<String>, error: String, retry_after: bool },
    /// No answer: the connection failed or was cut.
    Lost(String),
}

impl Answer {
    /// The acknowledged voter, if it was.
    pub fn voter(&self) -> Option<&str> {
        match self {
            Self::Acknowledged { voter, .. } => Some(voter),
            _ => None,
        }
    }
}

/// Sends one vote (`body` as JSON) to `url` and reads what came back.
pub async fn cast(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> Answer {
    let response = match client.post(url).json(body).send().await {
        Ok(response) => response,
        Err(error) => return Answer::Lost(format!("transport: {error}")),
    };
    let status = response.status();
    let voter = voter_of(response.headers());
    if status == reqwest::StatusCode::OK {
        let replica = response.headers().get("x-replica").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        return match voter {
            Some(voter) => Answer::Acknowledged { voter, replica },
            None => Answer::Lost("an acknowledgement without a voter cookie".to_owned()),
        };
    }
    let retry_after = response.headers().contains_key("retry-after");
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let error = body["error"].as_str().map_or_else(|| format!("no JSON error in {body}"), str::to_owned);
    Answer::Refused { status, voter, error, retry_after }
}
