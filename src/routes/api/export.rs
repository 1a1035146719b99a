//! Results to take away: CSV, one table per file, the results and the timeline (the JSON
//! is `/api/polls/{id}/results`, with its timeline).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use votestream_views::components::percent;

use crate::domain::{PollOption, VoterId};
use crate::error::AppError;
use crate::live::PollUpdate;
use crate::present::{MinuteVotes, minute_votes};
use crate::routes::extract::PollId;
use crate::state::AppState;

/// A cell a spreadsheet would run as a formula (`=…`, `+…`, `-…`, `@…`) gets a leading
/// apostrophe, so opening the file runs nothing a voter typed.
fn inert(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() }
}

/// The results as CSV: a header row, then one row per option in order. Quoting (commas,
/// quotes, line breaks) is the `csv` crate's.
pub fn results_csv(options: &[PollOption]) -> Result<String, csv::Error> {
    let total: i64 = options.iter().map(|o| o.votes).sum();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["option_id", "option", "votes", "percent"])?;
    for option in options {
        writer.write_record([
            option.id.to_string(),
            inert(&option.text),
            option.votes.to_string(),
            percent(option.votes, total).to_string(),
        ])?;
    }
    let bytes = writer.into_inner().map_err(|error| error.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The timeline as CSV: a header row, then one row per minute that had votes.
pub fn timeline_csv(minutes: &[MinuteVotes]) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["minute_utc", "votes"])?;
    for minute in minutes {
        writer.write_record([minute.minute.clone(), minute.votes.to_string()])?;
    }
    let bytes = writer.into_inner().map_err(|error| error.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A CSV download named `poll-{id}-{what}.csv`.
fn download(id: i64, what: &str, body: String) -> Result<Response, AppError> {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"poll-{id}-{what}.csv\""))
        .map_err(|error| AppError::Internal(error.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response())
}

/// The poll's state, if this caller may see its results.
async fn shown(state: &AppState, id: i64, voter: &VoterId) -> Result<PollUpdate, AppError> {
    let update = state.polls.current(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    if !state.polls.sees_results(&update, voter).await {
        return Err(AppError::Forbidden(
            "The results of this poll are not shown yet, so they cannot be downloaded.".into(),
        ));
    }
    Ok(update)
}

/// `GET /api/polls/{id}/timeline.csv`: votes per minute, every minute that had votes.
#[utoipa::path(get, path = "/api/polls/{id}/timeline.csv", tag = "polls", params(("id" = i64, Path)),
    responses((status = 200, description = "minute_utc, votes: one row per minute that had votes", content_type = "text/csv"),
        (status = 403, description = "The results are withheld from this caller", body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn timeline(State(state): State<AppState>, PollId(id): PollId, voter: VoterId) -> Result<Response, AppError> {
    let update = shown(&state, id, &voter).await?;
    let minutes = minute_votes(&state.polls.whole_timeline(&update).await?);
    download(id, "timeline", timeline_csv(&minutes).map_err(|error| AppError::Internal(error.into()))?)
}

/// `GET /api/polls/{id}/results.csv`: a download named after the poll.
#[utoipa::path(get, path = "/api/polls/{id}/results.csv", tag = "polls", params(("id" = i64, Path)),
    responses((status = 200, description = "option, votes, percent: one row per option", content_type = "text/csv"),
        (status = 403, description = "The results are withheld from this caller", body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn csv(State(state): State<AppState>, PollId(id): PollId, voter: VoterId) -> Result<Response, AppError> {
    let update = shown(&state, id, &voter).await?;
    download(id, "results", results_csv(&update.options).map_err(|error| AppError::Internal(error.into()))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(id: i64, text: &str, votes: i64) -> PollOption {
        PollOption { id, text: text.into(), votes }
    }

    #[test]
    fn awkward_texts_survive_a_csv_parser_and_formulas_are_inert() {
        let options = [
            option(1, "Yes, \"definitely\"", 3),
            option(2, "=HYPERLINK(\"http://evil.test\")", 1),
            option(3, "Ünïcödé · 🗳️", 0),
            option(4, "-1", 0),
        ];

        let text = results_csv(&options).expect("CSV");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
        let rows: Vec<Vec<String>> =
            reader.records().map(|r| r.expect("row").iter().map(str::to_owned).collect()).collect();

        assert_eq!(header, ["option_id", "option", "votes", "percent"]);
        assert_eq!(rows[0], ["1", "Yes, \"definitely\"", "3", "75"]);
        assert_eq!(rows[1][1], "'=HYPERLINK(\"http://evil.test\")");
        assert_eq!(rows[2][1], "Ünïcödé · 🗳️");
        assert_eq!(rows[3][1], "'-1");
        assert_eq!(rows.len(), 4);
    }
}
