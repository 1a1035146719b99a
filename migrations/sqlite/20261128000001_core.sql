-- Themes, polls, their options (each with a stored vote counter) and one row per vote.
-- The same tables, keys and checks as migrations/postgres, in SQLite's dialect.

create table themes (
    id          integer primary key,
    key         text not null,
    slug        text not null,
    name        text not null,
    icon        text not null,
    color       text not null,
    description text not null,
    position    integer not null,
    constraint themes_key_key unique (key),
    constraint themes_slug_key unique (slug),
    constraint themes_color_check check (
        color glob '#[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]'
    ),
    constraint themes_slug_check check (slug <> '' and slug not glob '*[^a-z0-9-]*')
);

create table polls (
    id         integer primary key,
    theme_id   integer not null,
    question   text not null,
    created_at text not null default current_timestamp,
    closed_at  text,
    constraint polls_theme_id_fkey foreign key (theme_id) references themes (id),
    constraint polls_question_check check (length(question) between 1 and 300)
);
-- A theme's polls in order (theme page, "Step k of n", next poll).
create index polls_theme_id_id_idx on polls (theme_id, id);

create table options (
    id       integer primary key,
    poll_id  integer not null,
    position integer not null,
    text     text not null,
    votes    integer not null default 0,
    constraint options_poll_id_fkey foreign key (poll_id) references polls (id) on delete cascade,
    -- Lets votes reference (poll, option) so a vote can only name an option of its poll.
    constraint options_poll_id_id_key unique (poll_id, id),
    constraint options_poll_id_position_key unique (poll_id, position),
    constraint options_votes_check check (votes >= 0),
    constraint options_text_check check (length(text) between 1 and 200)
);

create table votes (
    id         integer primary key,
    poll_id    integer not null,
    option_id  integer not null,
    voter_id   text not null,
    created_at text not null default current_timestamp,
    constraint votes_poll_id_voter_id_key unique (poll_id, voter_id),
    constraint votes_option_fkey foreign key (poll_id, option_id)
        references options (poll_id, id) on delete cascade
);
-- Counting and checking votes per option (counter audits, option deletion).
create index votes_option_id_idx on votes (option_id);
