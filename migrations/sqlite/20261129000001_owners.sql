-- The poll's owner and life (see the PostgreSQL migration of the same name): manage key
-- hash, closing time (unix seconds), results visibility, duplicate protection, choices per
-- voter, voter counter, revision; votes become ballots with one vote row per option.

alter table polls add column manage_hash text;
alter table polls add column closes_at integer;
alter table polls add column results_shown text not null default 'always'
    constraint polls_results_shown_check check (results_shown in ('always', 'after_vote', 'after_close'));
alter table polls add column protection text not null default 'cookie'
    constraint polls_protection_check check (protection in ('cookie', 'ip', 'none'));
alter table polls add column max_choices integer not null default 1
    constraint polls_max_choices_check check (max_choices between 1 and 10);
alter table polls add column voters integer not null default 0
    constraint polls_voters_check check (voters >= 0);
alter table polls add column revision integer not null default 0;
create index polls_closes_at_idx on polls (closes_at) where closes_at is not null and closed_at is null;

update polls set voters = (select coalesce(sum(o.votes), 0) from options o where o.poll_id = polls.id);

create table ballots (
    id         integer primary key,
    poll_id    integer not null,
    voter_key  text not null,
    guard_key  text,
    created_at text not null default current_timestamp,
    constraint ballots_poll_id_fkey foreign key (poll_id) references polls (id) on delete cascade,
    constraint ballots_poll_id_guard_key_key unique (poll_id, guard_key)
);
create index ballots_poll_id_voter_key_idx on ballots (poll_id, voter_key);

insert into ballots (poll_id, voter_key, guard_key, created_at)
select poll_id, voter_id, voter_id, created_at from votes;

create table votes_by_ballot (
    id         integer primary key,
    ballot_id  integer not null,
    poll_id    integer not null,
    option_id  integer not null,
    created_at text not null default current_timestamp,
    constraint votes_ballot_id_fkey foreign key (ballot_id) references ballots (id) on delete cascade,
    constraint votes_ballot_id_option_id_key unique (ballot_id, option_id),
    constraint votes_option_fkey foreign key (poll_id, option_id)
        references options (poll_id, id) on delete cascade
);
insert into votes_by_ballot (id, ballot_id, poll_id, option_id, created_at)
select v.id, b.id, v.poll_id, v.option_id, v.created_at
  from votes v join ballots b on b.poll_id = v.poll_id and b.guard_key = v.voter_id;
drop table votes;
alter table votes_by_ballot rename to votes;
create index votes_option_id_idx on votes (option_id);
