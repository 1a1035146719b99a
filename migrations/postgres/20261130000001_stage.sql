-- On stage: join codes, the presenter's place, results held for a reveal, and votes per
-- minute.
--
-- Join codes are a keyed permutation of ids (src/domain/code.rs): the key is made here,
-- once per database, so every replica agrees and codes never change; no code column, no
-- uniqueness to check, and nothing in a code counts polls.
create table site_keys (
    name  text not null,
    value bigint not null,
    constraint site_keys_pkey primary key (name)
);
insert into site_keys (name, value) values ('join_codes', floor(random() * 9007199254740991)::bigint);

alter table polls
    -- The poll a presentation started from this poll is showing (null: this one). No
    -- foreign key: a deleted poll there only sends the presentation back to its start.
    add column stage_poll_id bigint,
    -- Closed from the presenter, results held until the owner reveals them.
    add column held boolean not null default false,
    -- When voting ended, in whole minutes since 1970 (the timeline marks it): closed_at as
    -- the app counts minutes, the same on both backends; set and cleared with it.
    add column closed_minute bigint;
update polls set closed_minute = floor(extract(epoch from closed_at) / 60)::bigint where closed_at is not null;

-- Votes per poll and minute, counted by each committed batch with the other counters.
create table poll_minutes (
    poll_id bigint not null,
    minute  bigint not null,
    votes   bigint not null,
    constraint poll_minutes_pkey primary key (poll_id, minute),
    constraint poll_minutes_poll_id_fkey foreign key (poll_id) references polls (id) on delete cascade,
    constraint poll_minutes_votes_check check (votes > 0)
);
