//! View models: what the templates need, already loaded and computed.

/// The parts of a theme shown in headers and links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeSummary {
    /// URL slug, also used for the theme's colour class.
    pub slug: String,
    /// Display name, such as `#OnTrend`.
    pub name: String,
    /// One emoji.
    pub icon: String,
    /// A sentence or two about the theme.
    pub description: String,
}

/// A card on the home page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeCard {
    /// Name, icon, description.
    pub theme: ThemeSummary,
    /// How many polls the theme has.
    pub poll_count: i64,
    /// Votes cast on all of the theme's polls.
    pub vote_count: i64,
}

/// A poll as listed on its theme's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollCard {
    /// Poll id, for the "Vote now" link.
    pub id: i64,
    /// The question.
    pub question: String,
    /// Option texts, in order.
    pub options: Vec<String>,
    /// Votes cast so far.
    pub total_votes: i64,
    /// Whether voting has ended.
    pub closed: bool,
}

/// A poll's running total, for live counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollTotal {
    /// Poll id.
    pub id: i64,
    /// Votes cast so far.
    pub total: i64,
    /// Whether voting has ended.
    pub closed: bool,
}

/// `/themes/{slug}`, one page of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemePage {
    /// The theme.
    pub theme: ThemeSummary,
    /// This page's polls in order; numbered from `first_number` on.
    pub polls: Vec<PollCard>,
    /// The number of the page's first poll within the theme (1 on the first page).
    pub first_number: usize,
    /// The cursor this page was asked for (`?after=`); its live stream follows the same polls.
    pub after: Option<i64>,
    /// The cursor of the next page, if there is one.
    pub next_after: Option<i64>,
}

/// One option with its tally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionTally {
    /// Option id (the form value when voting).
    pub id: i64,
    /// Option text.
    pub text: String,
    /// Votes for it.
    pub votes: i64,
}

/// The result bars of a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Results {
    /// Poll id, for the element id.
    pub poll_id: i64,
    /// Options in order with their votes.
    pub options: Vec<OptionTally>,
    /// Voting has ended: these are the final results.
    pub closed: bool,
    /// Ballots cast (several votes each when voters may pick more than one option).
    pub voters: i64,
    /// The results are not shown to this viewer yet, and when they will be.
    pub withheld: Option<Reveal>,
    /// Votes per minute, when any came.
    pub timeline: Option<TimelineView>,
}

/// A poll's votes per minute, binned for drawing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineView {
    /// Votes in each bar, oldest first.
    pub bars: Vec<i64>,
    /// Minutes per bar.
    pub minutes_per_bar: i64,
    /// Where voting closed, in bars from the left (fractional bars as tenths), if it did.
    pub close_tenths: Option<i64>,
    /// The first bar's start, as shown ("14:02 UTC").
    pub from: String,
    /// The last bar's end, as shown.
    pub to: String,
    /// When voting closed, as shown.
    pub closed_at: Option<String>,
}

/// When withheld results will be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reveal {
    /// Once the viewer has voted.
    AfterVote,
    /// When the poll closes.
    AfterClose,
    /// Voting has ended; when the presenter reveals them.
    OnReveal,
}

impl Results {
    /// Votes over all options.
    pub fn total(&self) -> i64 {
        self.options.iter().map(|o| o.votes).sum()
    }
}

/// Where the viewer stands with a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ballot {
    /// Not voted yet, poll open: show the choices.
    Open,
    /// Voted (now or before): show the results.
    Voted {
        /// The options they chose.
        option_ids: Vec<i64>,
    },
    /// Voting has ended: show the results.
    Closed {
        /// The options they chose (none if they did not vote).
        option_ids: Vec<i64>,
    },
}

/// `/polls/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VotePage {
    /// The poll's theme.
    pub theme: ThemeSummary,
    /// The question.
    pub question: String,
    /// 1-based position of this poll within its theme.
    pub step: usize,
    /// Number of polls in the theme.
    pub steps: usize,
    /// Options and their tallies.
    pub results: Results,
    /// How many options the voter may pick (1: one button per option).
    pub max_choices: u8,
    /// Choices or results.
    pub ballot: Ballot,
    /// Why a vote was just refused (already voted, poll closed), said instead of the usual
    /// notice.
    pub refusal: Option<String>,
    /// The database is away: the page shows the latest results it has, and no ballot.
    pub voting_paused: bool,
    /// How to share the poll (on the site's own page; not inside a frame).
    pub share: Option<Share>,
    /// Shown alone in an iframe on another site: votes post to the embed route, and the
    /// way on is a link to the full poll, opened outside the frame.
    pub embedded: bool,
    /// The theme's next poll, if any.
    pub next_poll: Option<i64>,
    /// The code to join it with, typed at `/j`.
    pub join_code: Option<String>,
}

/// The share box of a poll, and what link previews read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The poll's absolute address.
    pub url: String,
    /// Its QR code (an image path of this site).
    pub qr: String,
    /// The iframe snippet for other sites.
    pub embed_snippet: String,
    /// The oEmbed address for the poll, for discovery.
    pub oembed: String,
}

/// A theme in the poll form's select.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeChoice {
    /// Form value.
    pub slug: String,
    /// Shown name.
    pub name: String,
    /// Shown icon.
    pub icon: String,
}

/// Messages shown next to the poll form's fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormErrors {
    /// About the question.
    pub question: Option<String>,
    /// About the theme.
    pub theme: Option<String>,
    /// About the options as a whole (count).
    pub options: Option<String>,
    /// About single options, by position.
    pub option: Vec<Option<String>>,
    /// About the number of choices per voter.
    pub max_choices: Option<String>,
}

impl FormErrors {
    /// True when no field has a message.
    pub fn is_empty(&self) -> bool {
        self.question.is_none()
            && self.theme.is_none()
            && self.options.is_none()
            && self.max_choices.is_none()
            && self.option.iter().all(Option::is_none)
    }

    /// The message for option `index`, if any.
    pub fn for_option(&self, index: usize) -> Option<&str> {
        self.option.get(index).and_then(|m| m.as_deref())
    }
}

/// `/polls/new`, blank or as submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPollForm {
    /// Themes to choose from.
    pub themes: Vec<ThemeChoice>,
    /// The question as typed.
    pub question: String,
    /// The chosen theme's slug.
    pub theme: String,
    /// The options as typed.
    pub options: Vec<String>,
    /// Choices per voter as typed (blank: one).
    pub max_choices: String,
    /// Messages per field.
    pub errors: FormErrors,
    /// What the fields accept.
    pub limits: FormLimits,
    /// The option row that takes the focus: the one just added, or the one in the place of
    /// a removed row, so a keyboard user goes on typing there.
    pub focus_option: Option<usize>,
    /// Where the form posts.
    pub action: String,
    /// Made from a manage page: the question of the poll whose manage link the new poll
    /// will share.
    pub sharing_key_of: Option<String>,
}

/// What the poll form's fields accept, from the same constants the server checks against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormLimits {
    /// Fewest options a poll may have.
    pub min_options: usize,
    /// Most options a poll may have.
    pub max_options: usize,
    /// Longest question, in characters.
    pub question_chars: usize,
    /// Longest option, in characters.
    pub option_chars: usize,
}

/// A 404 or error page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorView {
    /// HTTP status code, shown small.
    pub status: u16,
    /// Headline.
    pub title: String,
    /// What went wrong and what to do.
    pub message: String,
}

/// `/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Number of themes.
    pub themes: i64,
    /// Number of polls.
    pub polls: i64,
    /// Number of options.
    pub options: i64,
    /// Number of votes.
    pub votes: i64,
}

/// `/polls/{id}/manage/{key}`: the owner's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagePage {
    /// The question.
    pub question: String,
    /// This page's own address (the manage link), absolute.
    pub manage_url: String,
    /// The form's action: this page's path.
    pub action: String,
    /// Just created: the link is shown with the warning that it is shown only now.
    pub created: bool,
    /// The results, always shown to the owner.
    pub results: Results,
    /// When results are shown to others: `always`, `after_vote` or `after_close`.
    pub results_shown: &'static str,
    /// Duplicate protection: `cookie`, `ip` or `none`.
    pub protection: &'static str,
    /// The closing time, if any, as shown (UTC).
    pub closes_at: Option<String>,
    /// How many options a voter may pick.
    pub max_choices: u8,
    /// What was just done, said on top.
    pub notice: Option<String>,
    /// Closed from the presenter, results held until revealed.
    pub held: bool,
    /// The owner's presenter view (its address holds the key, like this page's).
    pub present: String,
    /// The form for another poll under the same key.
    pub add_poll: String,
    /// The poll's join code.
    pub join_code: Option<String>,
}

/// Where a presenter view stands: the poll on the wall and the way to its neighbours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentPage {
    /// The poll's theme.
    pub theme: ThemeSummary,
    /// The poll on the wall.
    pub poll_id: i64,
    /// Its question.
    pub question: String,
    /// 1-based position of the poll within its theme, and the theme's number of polls.
    pub step: (usize, usize),
    /// The results as the audience sees them (the wall shows what a voter who has not
    /// voted sees: it faces the room).
    pub results: Results,
    /// How to join: the short address shown (`votes.example/j`), the code, and the QR
    /// code's image path.
    pub join: Option<JoinInfo>,
    /// Previous and next poll of the theme, as links or buttons.
    pub previous: Option<i64>,
    /// The theme's next poll.
    pub next: Option<i64>,
    /// The owner's controls; `None` for the read-only view.
    pub controls: Option<PresenterControls>,
    /// Where the read-only view goes for a neighbour (`?poll=…` of this same view); the
    /// owner's controls post instead.
    pub browse: String,
    /// Where the view reloads itself from when the presentation moves (the live follower),
    /// and the stream that says so; `None` for a view that does not follow one.
    pub follow: Option<Follow>,
}

/// How to join a presentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinInfo {
    /// The join address without its scheme, as written on the wall (`votes.example/j`).
    pub address: String,
    /// The code, six characters.
    pub code: String,
    /// The QR code of the full join link.
    pub qr: String,
}

/// The owner's presenter controls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenterControls {
    /// Where the buttons post (the owner's presenter address, with the key).
    pub action: String,
    /// Whether this key owns the poll on the wall (only then can it close or reveal).
    pub owns_poll: bool,
    /// Voting has ended on the poll on the wall.
    pub closed: bool,
    /// Its results are held for a reveal.
    pub held: bool,
    /// What was just done, or why it could not be.
    pub notice: Option<String>,
}

/// A page that follows a presentation: when the presenter moves on, `stream` says so and
/// the page fetches `refresh` into `#main`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follow {
    /// The SSE stream of the presentation's moves.
    pub stream: String,
    /// The page to fetch again.
    pub refresh: String,
}
