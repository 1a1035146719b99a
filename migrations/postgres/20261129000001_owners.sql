-- The poll's owner and life: a manage key (its SHA-256 only), a closing time, when results
-- are shown, how duplicate votes are refused, how many options a voter may pick; a voter
-- counter; and a revision that grows with every owner change (so live viewers can order
-- "reopened" or "results revealed" after the votes they have seen).
-- Votes become ballots (one per voter and poll, unless protection is off) holding one
-- vote row per chosen option.

alter table polls
    add column manage_hash   text,
    add column closes_at     bigint,
    add column results_shown text not null default 'always',
    add column protection    text not null default 'cookie',
    add column max_choices   integer not null default 1,
    add column voters        bigint not null default 0,
    add column revision      bigint not null default 0,
    add constraint polls_results_shown_check check (results_shown in ('always', 'after_vote', 'after_close')),
    add constraint polls_protection_check check (protection in ('cookie', 'ip', 'none')),
    add constraint polls_max_choices_check check (max_choices between 1 and 10),
    add constraint polls_voters_check check (voters >= 0);
-- The deadline sweep: open polls with a closing time.
create index polls_closes_at_idx on polls (closes_at) where closes_at is not null and closed_at is null;

update polls p set voters = (select coalesce(sum(o.votes), 0) from options o where o.poll_id = p.id);

create table ballots (
    id         bigint generated always as identity,
    poll_id    bigint not null,
    -- The browser's voter id: "have I voted, and for what".
    voter_key  text not null,
    -- What makes a second ballot a duplicate: the voter id, a keyed hash of the address,
    -- or null (protection off; nulls never collide).
    guard_key  text,
    created_at timestamptz not null default now(),
    constraint ballots_pkey primary key (id),
    constraint ballots_poll_id_fkey foreign key (poll_id) references polls (id) on delete cascade,
    constraint ballots_poll_id_guard_key_key unique (poll_id, guard_key)
);
create index ballots_poll_id_voter_key_idx on ballots (poll_id, voter_key);

insert into ballots (poll_id, voter_key, guard_key, created_at)
select poll_id, voter_id, voter_id, created_at from votes;

alter table votes add column ballot_id bigint;
update votes v set ballot_id = b.id from ballots b where b.poll_id = v.poll_id and b.guard_key = v.voter_id;
alter table votes
    alter column ballot_id set not null,
    drop constraint votes_poll_id_voter_id_key,
    drop column voter_id,
    add constraint votes_ballot_id_fkey foreign key (ballot_id) references ballots (id) on delete cascade,
    add constraint votes_ballot_id_option_id_key unique (ballot_id, option_id);
